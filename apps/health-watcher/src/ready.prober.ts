/**
 * Asks every Ready, probed pod for `GET /ready`, every `intervalMs`, and reports the answers.
 *
 * A round takes the candidates (the trackers' Ready probed pods, see ready-probe.rules.ts),
 * asks at most `concurrency` at once, each with `timeoutMs`, and hands each answer back with
 * the pod incarnation it was asked for (the tracker drops answers about a pod that restarted
 * meanwhile). The next round starts `intervalMs` after this one started, or at once if the
 * round took longer (rounds never overlap, so a slow network can't pile requests up).
 *
 * Requests: plain node:http(s) with a keep-alive agent of our own (destroyed on stop), the
 * body discarded; no redirects followed (Mimir's /ready doesn't redirect; a 3xx is 'failing').
 */
import http from 'node:http';
import https from 'node:https';
import { sleep } from '@ringmaster/kube';
import type { ReadyProbe } from '@ringmaster/rollout-core';
import { probeResultOf } from './ready-probe.rules';
import type { ProbeCandidate } from './target-state.tracker';

/** GET `url`: the status code, or undefined for a timeout or network error. */
export type StatusGetter = (url: string, timeoutMs: number) => Promise<number | undefined>;

export interface ReadyProberOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Requests at once (default 32). */
  concurrency?: number;
  candidates: () => ProbeCandidate[];
  onResult: (candidate: ProbeCandidate, result: ReadyProbe) => void;
  /** Default: node:http(s) with the prober's own agents. */
  get?: StatusGetter;
}

export interface ProberStats {
  rounds: number;
  requests: number;
  ok: number;
  failing: number;
  lastRoundMs: number;
}

export class ReadyProber {
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly counters: ProberStats = {
    rounds: 0,
    requests: 0,
    ok: 0,
    failing: 0,
    lastRoundMs: 0,
  };

  constructor(private readonly opts: ReadyProberOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopSignal.abort();
    await this.loop;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  stats(): ProberStats {
    return { ...this.counters };
  }

  /** One round over the current candidates. */
  async runOnce(): Promise<void> {
    const started = Date.now();
    const candidates = this.opts.candidates();
    const get = this.opts.get ?? ((url, ms) => this.getStatus(url, ms));
    let next = 0;
    const worker = async () => {
      while (next < candidates.length && !this.stopSignal.signal.aborted) {
        const c = candidates[next++];
        let status: number | undefined;
        if (c.url !== undefined) {
          this.counters.requests++;
          status = await get(c.url, this.opts.timeoutMs);
        }
        // A Ready pod with no IP to ask can't be shown ready: 'failing'.
        const result = probeResultOf(status);
        this.counters[result === 'ok' ? 'ok' : 'failing']++;
        if (!this.stopSignal.signal.aborted) this.opts.onResult(c, result);
      }
    };
    const n = Math.min(this.opts.concurrency ?? 32, candidates.length);
    await Promise.all(Array.from({ length: n }, worker));
    this.counters.rounds++;
    this.counters.lastRoundMs = Date.now() - started;
  }

  private async run(): Promise<void> {
    while (!this.stopSignal.signal.aborted) {
      const started = Date.now();
      try {
        await this.runOnce();
      } catch {
        // runOnce catches per request; nothing else is expected to throw. Keep probing.
      }
      const wait = Math.max(0, this.opts.intervalMs - (Date.now() - started));
      await sleep(wait, this.stopSignal.signal);
    }
  }

  private getStatus(url: string, timeoutMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      let req: http.ClientRequest | undefined;
      const done = (s: number | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(s);
      };
      const timer = setTimeout(() => {
        req?.destroy(new Error(`timeout after ${timeoutMs} ms`));
        done(undefined);
      }, timeoutMs);
      const isHttps = url.startsWith('https:');
      try {
        req = (isHttps ? https : http).get(
          url,
          { agent: isHttps ? this.httpsAgent : this.httpAgent },
          (res) => {
            res.resume(); // discard the body, free the socket
            done(res.statusCode);
          },
        );
        req.on('error', () => done(undefined));
      } catch {
        done(undefined);
      }
    });
  }
}
