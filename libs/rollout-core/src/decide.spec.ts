import { UNREACHABLE_RETRY_MS, createRollout, decide, isSettled } from './decide';
import type {
  ObservedFleet,
  ObservedTarget,
  Unreachable,
  PodObs,
  RolloutEvent,
  RolloutSpec,
  RolloutState,
  WorkloadObs,
  Command,
} from './model';
import { workloadObs } from './testing/workload-obs.fixture';

const T = 'c1/mimir';
const spec = (extra: Partial<RolloutSpec> = {}): RolloutSpec => ({
  targets: [{ cluster: 'c1', namespace: 'mimir' }],
  change: { kind: 'restart' },
  soakSeconds: 0,
  instanceTimeoutSeconds: 300,
  restartMethod: 'evict',
  maxParallelTargets: 1,
  ...extra,
});

/** A hand-driven cluster: the test plays kubelet, controller and watcher. */
class Cluster {
  workloads: Record<string, WorkloadObs> = {};
  pods: Record<string, Record<string, PodObs>> = {};
  private uid = 100;

  statefulSet(
    name: string,
    component: string,
    replicas: number,
    extra: Partial<WorkloadObs> = {},
  ): this {
    this.workloads[name] = workloadObs(name, component, 'StatefulSet', replicas, extra);
    for (let i = 0; i < replicas; i++)
      this.put({
        name: `${name}-${i}`,
        uid: `u${this.uid++}`,
        workload: name,
        component,
        zone: extra.zone,
        revision: 'r1',
        ready: true,
        readySince: 0,
        probe: 'ok',
      });
    return this;
  }
  put(p: PodObs): void {
    (this.pods[p.component] ??= {})[p.name] = p;
  }
  /** The controller observed generation g and moved the update revision. */
  observeGeneration(name: string, g: number, rev: string): void {
    this.workloads[name] = {
      ...this.workloads[name],
      generation: g,
      observedGeneration: g,
      updateRevision: rev,
    };
  }
  /** Evicted and recreated at `rev` with a new uid; Ready at `readyAt` if given. */
  replace(
    component: string,
    name: string,
    rev: string,
    readyAt?: number,
    probe: PodObs['probe'] = 'ok',
  ): void {
    const old = this.pods[component][name];
    this.put({
      ...old,
      uid: `u${this.uid++}`,
      revision: rev,
      ready: readyAt !== undefined,
      readySince: readyAt,
      probe: readyAt !== undefined ? probe : 'failing',
    });
  }
  /** Set while the watcher cannot reach the cluster (the rest is the last state seen). */
  unreachable?: Unreachable;
  get observed(): ObservedFleet {
    return { [T]: this.target };
  }
  get target(): ObservedTarget {
    return {
      workloads: this.workloads,
      pods: this.pods,
      ...(this.unreachable ? { unreachable: this.unreachable } : {}),
    };
  }
}

function step(state: RolloutState, cluster: Cluster, event: RolloutEvent, now: number) {
  return decide(state, { event, observed: cluster.observed }, now);
}
const restarts = (cs: Command[]) =>
  cs.filter((c) => c.kind === 'restart-pod').map((c) => (c.kind === 'restart-pod' ? c.pod : ''));

describe('decide(): the worked example in its doc comment (3 ingesters, RF 3)', () => {
  it('applies the template, then restarts one ingester at a time as each comes back', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 3);
    let s = createRollout('r', spec(), 0);

    let d = step(s, k, { kind: 'observed', target: T }, 0);
    expect(d.commands).toEqual([
      {
        kind: 'apply-template',
        id: 'r:1',
        rolloutId: 'r',
        target: { cluster: 'c1', namespace: 'mimir' },
        workload: 'ingester',
        change: { kind: 'restart' },
        takeOver: false,
      },
    ]);
    s = d.state;
    d = step(s, k, { kind: 'command-result', commandId: 'r:1', outcome: 'done', generation: 2 }, 1);
    expect(d.commands).toEqual([]); // the controller has not observed generation 2 yet
    s = d.state;
    k.observeGeneration('ingester', 2, 'r2');
    d = step(s, k, { kind: 'observed', target: T }, 2);
    expect(restarts(d.commands)).toEqual(['ingester-0']);
    s = d.state;
    // Same input again: level-triggered, nothing new.
    expect(step(s, k, { kind: 'observed', target: T }, 3).commands).toEqual([]);

    k.replace('ingester', 'ingester-0', 'r2'); // recreated, not Ready yet
    d = step(s, k, { kind: 'observed', target: T }, 10);
    expect(d.commands).toEqual([]);
    s = d.state;
    k.replace('ingester', 'ingester-0', 'r2', 20);
    d = step(s, k, { kind: 'observed', target: T }, 20);
    expect(restarts(d.commands)).toEqual(['ingester-1']);
    s = d.state;
    k.replace('ingester', 'ingester-1', 'r2', 40);
    s = step(s, k, { kind: 'observed', target: T }, 40).state;
    k.replace('ingester', 'ingester-2', 'r2', 60);
    d = step(s, k, { kind: 'observed', target: T }, 60);
    expect(d.status).toBe('succeeded');
    expect(d.state.targets[T].components.ingester).toMatchObject({
      status: 'succeeded',
      restarted: 3,
      total: 3,
      maxUnavailableSeen: 1,
    });
    expect(isSettled(d.state)).toBe(true);
  });

  it('never mutates the state it is given', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 3);
    const s = createRollout('r', spec(), 0);
    const before = JSON.stringify(s);
    step(s, k, { kind: 'observed', target: T }, 0);
    expect(JSON.stringify(s)).toBe(before);
  });
});

/** Drives a StatefulSet component to the point where pods are being restarted. */
function started(k: Cluster, workloads: string[], extra: Partial<RolloutSpec> = {}) {
  let s = createRollout('r', spec(extra), 0);
  const d0 = step(s, k, { kind: 'observed', target: T }, 0);
  s = d0.state;
  for (const c of d0.commands)
    s = step(
      s,
      k,
      { kind: 'command-result', commandId: c.id, outcome: 'done', generation: 2 },
      1,
    ).state;
  for (const w of workloads) k.observeGeneration(w, 2, 'r2');
  return step(s, k, { kind: 'observed', target: T }, 2);
}

describe('decide(): gates and faults', () => {
  it('monolithic: the next instance waits for GET /ready 200, not just Ready', () => {
    const k = new Cluster().statefulSet('mimir', 'mimir', 3);
    let d = started(k, ['mimir']);
    expect(restarts(d.commands)).toEqual(['mimir-0']);
    k.replace('mimir', 'mimir-0', 'r2', 10, 'failing');
    d = step(d.state, k, { kind: 'observed', target: T }, 10);
    expect(d.commands).toEqual([]);
    k.replace('mimir', 'mimir-0', 'r2', 10, 'ok');
    d = step(d.state, k, { kind: 'observed', target: T }, 12);
    expect(restarts(d.commands)).toEqual(['mimir-1']);
  });

  it('monolithic: while /ready is not probed yet nothing goes (unknown is not down)', () => {
    const k = new Cluster().statefulSet('mimir', 'mimir', 3);
    for (const p of Object.values(k.pods.mimir)) k.put({ ...p, probe: 'unknown' });
    let d = started(k, ['mimir']);
    expect(restarts(d.commands)).toEqual([]);
    for (const p of Object.values(k.pods.mimir)) k.put({ ...p, probe: 'ok' });
    d = step(d.state, k, { kind: 'observed', target: T }, 3);
    expect(restarts(d.commands)).toEqual(['mimir-0']);
  });

  it('soak: Ready is not enough until it stayed Ready for soakSeconds (and asks for a tick then)', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 2);
    let d = started(k, ['ingester'], { soakSeconds: 30 });
    k.replace('ingester', 'ingester-0', 'r2', 1_000);
    d = step(d.state, k, { kind: 'observed', target: T }, 1_000);
    expect(d.commands).toEqual([]);
    expect(d.wakeAt).toBe(31_000);
    d = step(d.state, k, { kind: 'tick' }, 31_000);
    expect(restarts(d.commands)).toEqual(['ingester-1']);
  });

  it('an instance not back within its timeout halts its component and blocks with the pod named', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 3);
    let d = started(k, ['ingester'], { instanceTimeoutSeconds: 60 });
    k.replace('ingester', 'ingester-0', 'r2'); // never Ready
    d = step(d.state, k, { kind: 'tick' }, 62_003);
    expect(d.status).toBe('blocked');
    expect(d.state.reason).toBe(
      'c1/mimir: ingester: pod ingester-0 not back within 60s (new pod not Ready)',
    );
    expect(d.commands).toEqual([]);
    d = step(d.state, k, { kind: 'abort' }, 70_000);
    expect(d.status).toBe('aborted');
  });

  it('a stale observation of an already restarted pod (old uid) does not restart it twice', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 2);
    let d = started(k, ['ingester']);
    const oldUid = k.pods.ingester['ingester-0'].uid;
    k.replace('ingester', 'ingester-0', 'r2', 5);
    d = step(d.state, k, { kind: 'observed', target: T }, 5);
    expect(restarts(d.commands)).toEqual(['ingester-1']);
    k.put({ ...k.pods.ingester['ingester-0'], uid: oldUid, revision: 'r1' }); // reordered event
    d = step(d.state, k, { kind: 'observed', target: T }, 6);
    expect(restarts(d.commands)).toEqual([]);
  });

  it('unavailability it did not cause counts against the budget; a down pending pod goes first, free', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 3);
    k.put({ ...k.pods.ingester['ingester-2'], ready: false });
    const d = started(k, ['ingester']);
    expect(restarts(d.commands)).toEqual(['ingester-2']);
  });

  it('pause stops new restarts; resume goes on', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 2);
    let d = started(k, ['ingester']);
    d = step(d.state, k, { kind: 'pause' }, 3);
    k.replace('ingester', 'ingester-0', 'r2', 5);
    d = step(d.state, k, { kind: 'observed', target: T }, 5);
    expect([d.status, d.commands]).toEqual(['paused', []]);
    d = step(d.state, k, { kind: 'resume' }, 6);
    expect(restarts(d.commands)).toEqual(['ingester-1']);
  });

  it('refuses a RollingUpdate StatefulSet unless asked to take it over', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 3, {
      updateStrategy: 'RollingUpdate',
    });
    const d = step(createRollout('r', spec(), 0), k, { kind: 'observed', target: T }, 0);
    expect(d.status).toBe('blocked');
    expect(d.state.reason).toContain('StatefulSet ingester uses updateStrategy RollingUpdate');
    const taken = step(
      createRollout('r', spec({ takeOver: true }), 0),
      k,
      { kind: 'observed', target: T },
      0,
    );
    expect(taken.commands).toMatchObject([
      { kind: 'apply-template', workload: 'ingester', takeOver: true },
    ]);
  });

  it('a PDB refusal is shown while the executor retries; a permanent failure halts', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 2);
    let d = started(k, ['ingester']);
    const id = d.commands[0].id;
    d = step(
      d.state,
      k,
      { kind: 'command-result', commandId: id, outcome: 'refused', detail: 'PDB ingester-pdb' },
      3,
    );
    expect(d.state.targets[T].components.ingester.inFlight['ingester-0'].refused).toBe(
      'PDB ingester-pdb',
    );
    d = step(
      d.state,
      k,
      { kind: 'command-result', commandId: id, outcome: 'failed', detail: 'forbidden' },
      4,
    );
    expect(d.state.reason).toBe('c1/mimir: ingester: restart of pod ingester-0 failed: forbidden');
  });
});

describe('decide(): a cluster that cannot be reached', () => {
  const iso = (ms: number) => new Date(ms).toISOString();
  const down: Unreachable = {
    since: 4_000,
    reason: 'watch pods: connect ECONNREFUSED 10.0.0.1:6443',
  };
  const blockedBy = `cluster c1 unreachable since ${iso(4_000)}: ${down.reason}`;

  it('the watcher cannot see it: blocked with the cluster named, no timeout runs, no restart', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 3);
    let d = started(k, ['ingester'], { instanceTimeoutSeconds: 300 }); // ingester-0 in flight
    k.unreachable = down;
    d = step(d.state, k, { kind: 'observed', target: T }, 5_000);
    expect(d.status).toBe('blocked');
    expect(d.state.targets[T]).toMatchObject({ status: 'blocked', reason: blockedBy });
    expect(d.state.reason).toBe(`c1/mimir: ${blockedBy}`);
    expect(d.audit).toEqual([
      { at: 5_000, type: 'target-unreachable', message: `c1/mimir blocked: ${blockedBy}` },
      { at: 5_000, type: 'blocked', message: `c1/mimir: ${blockedBy}` },
    ]);
    expect(isSettled(d.state)).toBe(false); // it resumes by itself
    // Long past ingester-0's timeout: still the truth, not "pod ingester-0 not back within 300s".
    d = step(d.state, k, { kind: 'tick' }, 400_000);
    expect([d.status, d.state.reason, d.commands, d.audit]).toEqual([
      'blocked',
      `c1/mimir: ${blockedBy}`,
      [],
      [],
    ]);
    expect(d.state.targets[T].components.ingester.status).toBe('running');
  });

  it('back again: resumes by itself, fresh timeouts, the next restart once the pod is back', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 3);
    let d = started(k, ['ingester'], { instanceTimeoutSeconds: 300 });
    k.unreachable = down;
    d = step(d.state, k, { kind: 'observed', target: T }, 5_000);
    k.unreachable = undefined; // the watcher sees it again: ingester-0 was recreated, not Ready
    k.replace('ingester', 'ingester-0', 'r2');
    d = step(d.state, k, { kind: 'observed', target: T }, 400_000);
    expect(d.status).toBe('running');
    expect(d.state.reason).toBeUndefined();
    expect(d.audit).toContainEqual({
      at: 400_000,
      type: 'target-reachable',
      message: 'c1/mimir: cluster c1 reachable again after 396s; resuming',
    });
    expect(d.commands).toEqual([]);
    // Its timeout counts from the return, not from the restart (which was 398 s ago).
    d = step(d.state, k, { kind: 'tick' }, 400_000 + 299_000);
    expect(d.status).toBe('running');
    k.replace('ingester', 'ingester-0', 'r2', 700_000);
    d = step(d.state, k, { kind: 'observed', target: T }, 700_000);
    expect(restarts(d.commands)).toEqual(['ingester-1']);
  });

  it("an executor's `unreachable`: the pod keeps its slot, the restart goes again later under a new id", () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 3);
    let d = started(k, ['ingester']);
    const first = d.commands[0];
    expect(first).toMatchObject({ kind: 'restart-pod', pod: 'ingester-0' });
    d = step(
      d.state,
      k,
      {
        kind: 'command-result',
        commandId: first.id,
        outcome: 'unreachable',
        detail: 'no connection to cluster c1',
      },
      10_000,
    );
    const reason = `cluster c1 unreachable since ${iso(10_000)}: executor: no connection to cluster c1`;
    expect([d.status, d.state.targets[T].reason, d.commands]).toEqual(['blocked', reason, []]);
    expect(d.wakeAt).toBe(10_000 + UNREACHABLE_RETRY_MS);
    // ingester-0 still looks Ready (it was never touched), but it keeps its slot: nobody else goes.
    d = step(d.state, k, { kind: 'observed', target: T }, 11_000);
    expect(d.commands).toEqual([]);
    d = step(d.state, k, { kind: 'tick' }, 10_000 + UNREACHABLE_RETRY_MS);
    expect(d.status).toBe('running');
    expect(d.commands).toEqual([
      { ...first, id: expect.not.stringMatching(`^${first.id}$`) as unknown as string },
    ]);
    const c = d.state.targets[T].components.ingester;
    expect(c.inFlight['ingester-0']).toEqual({
      commandId: d.commands[0].id,
      uid: (first as { uid: string }).uid,
      issuedAt: 10_000 + UNREACHABLE_RETRY_MS,
    });
    // A late result of the first command changes nothing.
    const late = step(
      d.state,
      k,
      { kind: 'command-result', commandId: first.id, outcome: 'done' },
      26_000,
    );
    expect(late.commands).toEqual([]);
    expect(late.state.targets[T].components.ingester.inFlight['ingester-0'].commandId).toBe(
      d.commands[0].id,
    );
  });

  it("an executor's `unreachable` template change is issued again; the watcher's word keeps it waiting", () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 2);
    let d = step(createRollout('r', spec(), 0), k, { kind: 'observed', target: T }, 0);
    const apply = d.commands[0];
    d = step(
      d.state,
      k,
      { kind: 'command-result', commandId: apply.id, outcome: 'unreachable', detail: 'x' },
      1_000,
    );
    k.unreachable = { since: 500, reason: 'watch pods: refused' };
    d = step(d.state, k, { kind: 'tick' }, 1_000 + UNREACHABLE_RETRY_MS); // retry due, watcher says no
    expect([d.status, d.commands]).toEqual(['blocked', []]);
    // The watcher saw it first: its time and words.
    expect(d.state.targets[T].reason).toBe(
      `cluster c1 unreachable since ${iso(500)}: watch pods: refused`,
    );
    k.unreachable = undefined;
    d = step(d.state, k, { kind: 'observed', target: T }, 40_000);
    expect(d.commands).toMatchObject([{ kind: 'apply-template', workload: 'ingester' }]);
    expect(d.commands[0].id).not.toBe(apply.id);
  });

  it('resume while it is still unreachable: still blocked, same truth', () => {
    const k = new Cluster().statefulSet('ingester', 'ingester', 2);
    let d = started(k, ['ingester']);
    k.unreachable = down;
    d = step(d.state, k, { kind: 'observed', target: T }, 5_000);
    d = step(d.state, k, { kind: 'resume' }, 6_000);
    expect([d.status, d.state.reason, d.commands]).toEqual([
      'blocked',
      `c1/mimir: ${blockedBy}`,
      [],
    ]);
  });

  it('only the cut cluster blocks: the other target rolls to success, the rollout stays blocked', () => {
    const T2 = 'c2/mimir';
    const k1 = new Cluster().statefulSet('ingester', 'ingester', 2);
    const k2 = new Cluster().statefulSet('ingester', 'ingester', 2);
    k1.unreachable = down;
    const fleet = () => ({ [T]: k1.target, [T2]: k2.target });
    const go = (s: RolloutState, event: RolloutEvent, now: number) =>
      decide(s, { event, observed: fleet() }, now);
    const two = spec({
      targets: [
        { cluster: 'c1', namespace: 'mimir' },
        { cluster: 'c2', namespace: 'mimir' },
      ],
      maxParallelTargets: 2,
    });
    let d = go(createRollout('r', two, 0), { kind: 'tick' }, 0);
    expect(d.commands.map((c) => c.target.cluster)).toEqual(['c2']); // nothing for c1
    for (const c of d.commands)
      d = go(
        d.state,
        { kind: 'command-result', commandId: c.id, outcome: 'done', generation: 2 },
        1,
      );
    k2.observeGeneration('ingester', 2, 'r2');
    d = go(d.state, { kind: 'observed', target: T2 }, 2);
    expect(restarts(d.commands)).toEqual(['ingester-0']);
    k2.replace('ingester', 'ingester-0', 'r2', 5);
    d = go(d.state, { kind: 'observed', target: T2 }, 5);
    expect(restarts(d.commands)).toEqual(['ingester-1']);
    k2.replace('ingester', 'ingester-1', 'r2', 9);
    d = go(d.state, { kind: 'observed', target: T2 }, 9);
    expect(d.state.targets[T2].status).toBe('succeeded');
    expect(d.state.targets[T].status).toBe('blocked');
    expect([d.status, d.state.reason]).toEqual(['blocked', `c1/mimir: ${blockedBy}`]);
    expect(isSettled(d.state)).toBe(false);
  });
});
