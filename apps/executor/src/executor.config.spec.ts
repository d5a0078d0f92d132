import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecutorConfigError, loadExecutorClusters, loadExecutorConfig } from './executor.config';

const dir = mkdtempSync(join(tmpdir(), 'executor-config-'));
const kubeconfig = join(dir, 'kubeconfig.yaml');
writeFileSync(
  kubeconfig,
  `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: { server: 'https://127.0.0.1:6443' }
users:
- name: u1
  user: { token: t }
contexts:
- name: kwok-1
  context: { cluster: c1, user: u1 }
- name: gke_eu
  context: { cluster: c1, user: u1 }
current-context: kwok-1
`,
);

const minimal = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  KUBECONFIG: kubeconfig,
  RINGMASTER_CONTEXTS: 'eu-1=gke_eu, kwok-1',
};

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadExecutorConfig(env);
  } catch (e) {
    if (e instanceof ExecutorConfigError)
      return e.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw e;
  }
  return [];
}

describe('loadExecutorConfig', () => {
  it('defaults', () => {
    const c = loadExecutorConfig(minimal);
    expect(c).toMatchObject({
      kubeconfigPath: kubeconfig,
      contexts: ['eu-1=gke_eu', 'kwok-1'],
      clusterNames: ['eu-1', 'kwok-1'],
      groupId: 'ringmaster-executor',
      concurrency: 6,
      refusalDeadlineMs: 120_000,
      retryBudgetMs: 600_000,
      unreachableAfterMs: 2_000,
      backoff: { initialMs: 500, maxMs: 10_000 },
      completedCacheSize: 10_000,
    });
    expect(c.executorId).toMatch(new RegExp(`-${process.pid}$`));
    expect(c.kafka.clientId).toBe('ringmaster-executor');
    expect(c.kafka.topics.commands).toBe('rollout.commands');
  });

  it('the topic prefix applies to topics and the default group', () => {
    const c = loadExecutorConfig({ ...minimal, KAFKA_TOPIC_PREFIX: 'staging.' });
    expect(c.kafka.topics.commandResults).toBe('staging.rollout.command-results');
    expect(c.groupId).toBe('staging.ringmaster-executor');
    expect(
      loadExecutorConfig({ ...minimal, KAFKA_TOPIC_PREFIX: 'staging.', EXECUTOR_GROUP_ID: 'g' })
        .groupId,
    ).toBe('g');
  });

  it('reports every problem at once, each naming its variable', () => {
    expect(
      problems({
        KUBECONFIG: '/nonexistent/kc.yaml',
        EXECUTOR_GROUP_ID: 'has space',
        EXECUTOR_CONCURRENCY: '0',
        EXECUTOR_BACKOFF_INITIAL_MS: '5000',
        EXECUTOR_BACKOFF_MAX_MS: '100',
        EXECUTOR_REFUSAL_DEADLINE_MS: 'soon',
      }),
    ).toEqual([
      'KAFKA_BROKERS: required (host:port[,host:port...])',
      'KUBECONFIG: no such file: /nonexistent/kc.yaml',
      'RINGMASTER_CONTEXTS: required: the clusters this executor can reach (`context` or `name=context`, comma-separated)',
      'EXECUTOR_GROUP_ID: only letters, digits, ".", "_" and "-" (at most 249)',
      'EXECUTOR_CONCURRENCY: must be an integer >= 1 (got "0")',
      'EXECUTOR_REFUSAL_DEADLINE_MS: must be an integer >= 0 (got "soon")',
      'EXECUTOR_BACKOFF_MAX_MS: must be >= EXECUTOR_BACKOFF_INITIAL_MS (5000)',
    ]);
  });

  it('bad cluster entries name RINGMASTER_CONTEXTS', () => {
    expect(problems({ ...minimal, RINGMASTER_CONTEXTS: 'a/b=ctx,x=,kwok-1,kwok-1' })).toEqual([
      'RINGMASTER_CONTEXTS: "a/b=ctx": cluster name must not contain "/" or whitespace',
      'RINGMASTER_CONTEXTS: "x=": no context',
      'RINGMASTER_CONTEXTS: cluster name "kwok-1" is given twice',
    ]);
  });

  it('an executor id over 253 characters is refused', () => {
    expect(problems({ ...minimal, EXECUTOR_ID: 'x'.repeat(254) })).toEqual([
      'EXECUTOR_ID: at most 253 characters',
    ]);
  });
});

describe('loadExecutorClusters', () => {
  it('one client set per configured cluster', () => {
    const clusters = loadExecutorClusters(loadExecutorConfig(minimal));
    expect([...clusters.keys()]).toEqual(['eu-1', 'kwok-1']);
    expect(clusters.get('eu-1')?.context).toBe('gke_eu');
  });

  it('a context missing from the kubeconfig fails fast, naming RINGMASTER_CONTEXTS', () => {
    const config = loadExecutorConfig({ ...minimal, RINGMASTER_CONTEXTS: 'eu-1=nope' });
    expect(() => loadExecutorClusters(config)).toThrow(
      /RINGMASTER_CONTEXTS: kubeconfig .* has no context "nope" \(cluster "eu-1"\); known: kwok-1, gke_eu/,
    );
  });
});
