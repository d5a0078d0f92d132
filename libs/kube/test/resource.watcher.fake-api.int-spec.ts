/**
 * The watcher's failure paths, against a scripted HTTP server that speaks the list/watch
 * protocol (a real API server will not drop connections or answer 500 on cue):
 *
 *   watch 1: ADDED p2 (rv 11), then the socket is destroyed     -> reconnect from rv 11
 *   watch 2: MODIFIED p1 (rv 12), BOOKMARK rv 15, clean close    -> reconnect from rv 15
 *   watch 3: HTTP 500                                            -> backoff, reconnect from rv 15
 *   watch 4: ERROR event code 410                                -> re-list (onResync), watch from its rv 20
 *   watch 5: HTTP 410                                            -> re-list again, watch from rv 21
 *   watch 6: DELETED p1 (rv 22), then held open                  -> until stop()
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { type KubeClusterClients, watchResources } from '../src';
import { waitFor } from './kube-test.env';

jest.setTimeout(30_000);

const podJson = (name: string, rv: number, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: String(rv), labels },
});

describe('watchResources failure paths (scripted API server)', () => {
  let server: Server;
  let clients: KubeClusterClients;
  let stopWatch: (() => Promise<void>) | undefined;
  const requests: string[] = [];
  let listCount = 0;
  let watchCount = 0;
  const openResponses: ServerResponse[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    const watching = url.searchParams.get('watch') === 'true';
    requests.push(
      `${watching ? 'WATCH' : 'LIST'} rv=${url.searchParams.get('resourceVersion') ?? ''}`,
    );
    if (!watching) {
      listCount++;
      const lists = [
        { rv: 10, items: [podJson('p1', 5)] },
        { rv: 20, items: [podJson('p1', 12), podJson('p3', 19)] },
        { rv: 21, items: [podJson('p1', 12), podJson('p3', 19)] },
      ];
      const l = lists[Math.min(listCount - 1, lists.length - 1)];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'PodList',
          metadata: { resourceVersion: String(l.rv) },
          items: l.items,
        }),
      );
      return;
    }
    watchCount++;
    const send = (type: string, object: object) =>
      res.write(`${JSON.stringify({ type, object })}\n`);
    switch (watchCount) {
      case 1:
        res.writeHead(200, { 'content-type': 'application/json' });
        send('ADDED', podJson('p2', 11));
        setTimeout(() => req.socket.destroy(), 50);
        break;
      case 2:
        res.writeHead(200, { 'content-type': 'application/json' });
        send('MODIFIED', podJson('p1', 12, { v: '2' }));
        send('BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '15' } });
        setTimeout(() => res.end(), 50);
        break;
      case 3:
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 500, message: 'boom' }));
        break;
      case 4:
        res.writeHead(200, { 'content-type': 'application/json' });
        send('ERROR', {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'too old resource version: 15 (18)',
          reason: 'Expired',
          code: 410,
        });
        setTimeout(() => res.end(), 50);
        break;
      case 5:
        res.writeHead(410, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Gone' }));
        break;
      default:
        res.writeHead(200, { 'content-type': 'application/json' });
        send('DELETED', podJson('p1', 22));
        openResponses.push(res); // held open until the test stops the watch
    }
  };

  beforeAll(async () => {
    server = createServer(handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
      currentContext: 'fake',
    });
    clients = {
      name: 'fake',
      context: 'fake',
      server: `http://127.0.0.1:${port}`,
      kc,
      core: kc.makeApiClient(CoreV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      policy: kc.makeApiClient(PolicyV1Api),
    };
  });

  afterAll(async () => {
    await stopWatch?.(); // also when an assertion failed: a live watcher would reconnect forever
    for (const r of openResponses) r.end();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reconnects from the last version after drops and errors, re-lists on 410 (event or HTTP), and stops cleanly', async () => {
    const state = new Map<string, string>();
    const log: string[] = [];
    const errors: string[] = [];
    const w = watchResources<'pods'>(
      clients,
      'ns',
      'pods',
      {
        onResync: (list: V1Pod[]) => {
          log.push(`resync ${list.map((p) => p.metadata!.name).join(',')}`);
          state.clear();
          for (const p of list) state.set(p.metadata!.name!, p.metadata!.resourceVersion!);
        },
        onUpsert: (p) => {
          log.push(`upsert ${p.metadata!.name}@${p.metadata!.resourceVersion}`);
          state.set(p.metadata!.name!, p.metadata!.resourceVersion!);
        },
        onDelete: (p) => {
          log.push(`delete ${p.metadata!.name}`);
          state.delete(p.metadata!.name!);
        },
        onError: (err, info) =>
          errors.push(
            `${info.phase}: ${String(err).split('\n')[0]} (retry in ${info.retryInMs} ms)`,
          ),
      },
      { timeoutSeconds: 60, backoff: { initialMs: 20, maxMs: 100, factor: 2 } },
    );
    stopWatch = () => w.stop();
    await waitFor('the DELETED of watch 6', () => log.includes('delete p1'), 10_000, 20);
    expect(requests).toEqual([
      'LIST rv=',
      'WATCH rv=10',
      'WATCH rv=11',
      'WATCH rv=15',
      'WATCH rv=15',
      'LIST rv=',
      'WATCH rv=20',
      'LIST rv=',
      'WATCH rv=21',
    ]);
    expect(log).toEqual([
      'resync p1',
      'upsert p2@11',
      'upsert p1@12',
      'resync p1,p3',
      'resync p1,p3',
      'delete p1',
    ]);
    // p2 vanished while the watcher could not see it: the resync dropped it.
    expect([...state]).toEqual([['p3', '19']]);
    expect(w.stats()).toMatchObject({ lists: 3, watches: 6, gone: 2, events: 3 });
    expect(w.resourceVersion()).toBe('22');
    expect(errors.length).toBe(2); // the reset socket and the 500, each retried after a backoff
    expect(errors[1]).toMatch(/^watch: .*Internal Server Error/);
    await w.stop();
    expect(openResponses.length).toBe(1);
  });
});

describe('watchResources idle watchdog (scripted API server)', () => {
  it('gives up on a watch that never answers or stays silent, and reconnects from the same version', async () => {
    const requests: string[] = [];
    const held: ServerResponse[] = [];
    let watches = 0;
    const server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      requests.push(
        `${url.searchParams.get('watch') === 'true' ? 'WATCH' : 'LIST'} rv=${url.searchParams.get('resourceVersion') ?? ''}`,
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.searchParams.get('watch') !== 'true') {
        res.end(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'PodList',
            metadata: { resourceVersion: '7' },
            items: [],
          }),
        );
      } else if (++watches === 1) {
        held.push(res); // headers never sent: the client never gets a response
      } else if (watches === 2) {
        res.flushHeaders(); // a response, then silence: no event, no bookmark
        held.push(res);
      } else {
        res.write(`${JSON.stringify({ type: 'ADDED', object: podJson('p9', 8) })}\n`);
        held.push(res);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'f', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'f', cluster: 'f', user: 'u' }],
      currentContext: 'f',
    });
    const clients: KubeClusterClients = {
      name: 'f',
      context: 'f',
      server: '',
      kc,
      core: kc.makeApiClient(CoreV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      policy: kc.makeApiClient(PolicyV1Api),
    };
    const seen: string[] = [];
    const errors: string[] = [];
    const w = watchResources(
      clients,
      'ns',
      'pods',
      {
        onResync: () => undefined,
        onUpsert: (p) => void seen.push(p.metadata!.name!),
        onDelete: () => undefined,
        onError: (e) => void errors.push(String(e)),
      },
      { idleTimeoutMs: 300, backoff: { initialMs: 10, maxMs: 20, factor: 2 } },
    );
    try {
      await waitFor('the event of the second watch', () => seen.includes('p9'), 5000, 20).catch(
        (e) => {
          throw new Error(`${e}; requests ${JSON.stringify(requests)}; first error: ${errors[0]}`);
        },
      );
      expect(requests).toEqual(['LIST rv=', 'WATCH rv=7', 'WATCH rv=7', 'WATCH rv=7']);
      expect(errors[0]).toMatch(/no connection within 300 ms/);
      expect(errors[1]).toMatch(/idle for 300 ms/);
    } finally {
      await w.stop();
      for (const r of held) r.end();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
