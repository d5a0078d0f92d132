import { apiFailure } from './cluster-watch.supervisor';
import { TargetReachability } from './target-reachability.tracker';

const target = { cluster: 'eu-1', namespace: 'mimir' };
const values = (ms: { value: unknown }[]) => ms.map((m) => m.value);

describe('TargetReachability', () => {
  it('the worked example of its doc comment', () => {
    const r = new TargetReachability(target, ['pods', 'statefulsets'], 3000);
    expect(r.connected('pods', 0)).toEqual([]); // statefulsets has not answered yet
    expect(r.connected('statefulsets', 0)).toEqual([
      {
        topic: 'reachability',
        key: 'eu-1/mimir',
        value: {
          v: 1,
          type: 'cluster.reachability',
          cluster: 'eu-1',
          namespace: 'mimir',
          reachable: true,
          since: 0,
          observedAt: 0,
        },
      },
    ]);
    expect(r.failed('pods', 'ECONNREFUSED', 10_000)).toEqual([]);
    expect(r.evaluate(12_000)).toEqual([]);
    expect(values(r.evaluate(13_000))).toEqual([
      expect.objectContaining({
        reachable: false,
        since: 10_000,
        reason: 'watch pods: ECONNREFUSED',
        observedAt: 13_000,
      }),
    ]);
    expect(r.unreachable).toBe(true);
    expect(r.evaluate(20_000)).toEqual([]); // said once
    expect(values(r.connected('pods', 40_000))).toEqual([
      expect.objectContaining({ reachable: true, since: 40_000 }),
    ]);
  });

  it('a blip shorter than the threshold publishes nothing', () => {
    const r = new TargetReachability(target, ['pods'], 3000);
    r.connected('pods', 0);
    r.failed('pods', 'reset', 1000);
    expect(r.failed('pods', 'refused', 2000)).toEqual([]); // since stays 1000
    expect(r.connected('pods', 3500)).toEqual([]); // still reachable: nothing new
  });

  it('since is the first failure; the reason is the last error', () => {
    const r = new TargetReachability(target, ['pods', 'deployments'], 3000);
    r.failed('pods', 'first', 1000);
    r.failed('deployments', 'other', 1500);
    r.failed('pods', 'last', 3000);
    expect(values(r.evaluate(4000))).toEqual([
      expect.objectContaining({ reachable: false, since: 1000, reason: 'watch pods: last' }),
    ]);
  });

  it('a watcher that starts while the cluster is down says unreachable (never answered)', () => {
    const r = new TargetReachability(target, ['pods'], 0);
    expect(values(r.failed('pods', 'connect ECONNREFUSED', 5))).toEqual([
      expect.objectContaining({ reachable: false, since: 5 }),
    ]);
  });

  it('is reachable again only when every failing watch has answered', () => {
    const r = new TargetReachability(target, ['pods', 'statefulsets'], 0);
    r.connected('pods', 0);
    r.connected('statefulsets', 0);
    r.failed('pods', 'x', 10);
    r.failed('statefulsets', 'y', 10);
    expect(r.connected('pods', 20)).toEqual([]);
    expect(values(r.connected('statefulsets', 30))).toEqual([
      expect.objectContaining({ reachable: true, since: 30 }),
    ]);
  });
});

describe('apiFailure: the reason in a few words', () => {
  it('keeps what node-fetch says after "reason:", without the URL', () => {
    const e = Object.assign(
      new Error(
        'request to https://127.0.0.1:43885/api/v1/namespaces/x/pods?watch=true failed, reason: connect ECONNREFUSED 127.0.0.1:43885',
      ),
      { name: 'FetchError' },
    );
    expect(apiFailure(e)).toBe('connect ECONNREFUSED 127.0.0.1:43885');
  });
  it('leaves other errors as errorReason gives them', () => {
    expect(apiFailure(new Error('Premature close'))).toMatch(/Premature close/);
  });
});
