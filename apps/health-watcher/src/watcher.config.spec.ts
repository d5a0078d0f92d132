import {
  DEFAULT_READY_PROBE_URL,
  HealthWatcherConfigError,
  checkUrlTemplate,
  healthWatcherConfigFromEnv,
  parseNamespaces,
} from './watcher.config';

// Any file that exists will do for KUBECONFIG: the config only checks that it is there.
const base = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  KUBECONFIG: __filename,
  RINGMASTER_CONTEXTS: 'kwok-ringmaster-1',
};

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    healthWatcherConfigFromEnv(env);
  } catch (e) {
    if (e instanceof HealthWatcherConfigError) return e.problems.map((p) => p.variable);
    throw e;
  }
  return [];
}

describe('healthWatcherConfigFromEnv', () => {
  it('applies the defaults', () => {
    const c = healthWatcherConfigFromEnv(base);
    expect(c.targets).toEqual([{ cluster: 'kwok-ringmaster-1', namespace: 'mimir' }]);
    expect(c.labelSelector).toBe('app.kubernetes.io/name=mimir');
    expect(c.probe).toEqual({
      urlTemplate: DEFAULT_READY_PROBE_URL,
      explicitUrl: false,
      intervalMs: 1000,
      timeoutMs: 1000,
    });
    expect(c.publishLingerMs).toBe(50);
    expect(c.kafka.topics.pods).toBe('cluster.pods');
    expect(c.kafka.clientId).toBe('ringmaster-health-watcher');
  });

  it('reads every setting', () => {
    const c = healthWatcherConfigFromEnv({
      ...base,
      KAFKA_TOPIC_PREFIX: 'it.',
      RINGMASTER_CONTEXTS: 'eu-1=gke_eu, kwok-ringmaster-1',
      RINGMASTER_NAMESPACES: 'mimir, eu-1/mimir-canary',
      RINGMASTER_LABEL_SELECTOR: 'app=mimir',
      RINGMASTER_READY_PROBE_URL: 'http://127.0.0.1:18080/ready/{namespace}/{pod}',
      RINGMASTER_READY_PROBE_INTERVAL_MS: '250',
      RINGMASTER_PROBE_COMPONENTS: 'all, ingester,all',
      RINGMASTER_PUBLISH_LINGER_MS: '0',
    });
    expect(c.contexts).toEqual(['eu-1=gke_eu', 'kwok-ringmaster-1']);
    expect(c.targets.map((t) => `${t.cluster}/${t.namespace}`)).toEqual([
      'eu-1/mimir',
      'eu-1/mimir-canary',
      'kwok-ringmaster-1/mimir',
    ]);
    expect(c.kafka.topics.workloads).toBe('it.cluster.workloads');
    expect(c.labelSelector).toBe('app=mimir');
    expect(c.probe).toEqual({
      urlTemplate: 'http://127.0.0.1:18080/ready/{namespace}/{pod}',
      explicitUrl: true,
      intervalMs: 250,
      timeoutMs: 250,
      components: ['all', 'ingester'],
    });
    expect(c.publishLingerMs).toBe(0);
  });

  it('`none` turns probing off', () => {
    expect(
      healthWatcherConfigFromEnv({ ...base, RINGMASTER_PROBE_COMPONENTS: 'none' }).probe.components,
    ).toEqual([]);
  });

  it.each([
    [{ KAFKA_BROKERS: undefined }, ['KAFKA_BROKERS']],
    [{ KUBECONFIG: undefined }, ['KUBECONFIG']],
    [{ KUBECONFIG: '/nonexistent/kubeconfig.yaml' }, ['KUBECONFIG']],
    [{ RINGMASTER_CONTEXTS: ' , ' }, ['RINGMASTER_CONTEXTS']],
    [{ RINGMASTER_CONTEXTS: 'a,a' }, ['RINGMASTER_CONTEXTS']],
    [{ RINGMASTER_CONTEXTS: 'x/y=ctx' }, ['RINGMASTER_CONTEXTS']],
    [{ RINGMASTER_NAMESPACES: 'Mimir' }, ['RINGMASTER_NAMESPACES']],
    [{ RINGMASTER_NAMESPACES: 'other/mimir' }, ['RINGMASTER_NAMESPACES']],
    [{ RINGMASTER_NAMESPACES: '' }, ['RINGMASTER_NAMESPACES']],
    [{ RINGMASTER_READY_PROBE_URL: 'http://{ip}:8080/ready' }, ['RINGMASTER_READY_PROBE_URL']],
    [{ RINGMASTER_READY_PROBE_URL: 'ftp://{podIP}/ready' }, ['RINGMASTER_READY_PROBE_URL']],
    [{ RINGMASTER_READY_PROBE_INTERVAL_MS: '0' }, ['RINGMASTER_READY_PROBE_INTERVAL_MS']],
    [{ RINGMASTER_READY_PROBE_TIMEOUT_MS: '1.5' }, ['RINGMASTER_READY_PROBE_TIMEOUT_MS']],
    [{ RINGMASTER_PROBE_COMPONENTS: ',' }, ['RINGMASTER_PROBE_COMPONENTS']],
    [{ RINGMASTER_PUBLISH_LINGER_MS: '-1' }, ['RINGMASTER_PUBLISH_LINGER_MS']],
  ])('%j is refused, naming %j', (override, variables) => {
    expect(problems({ ...base, ...override })).toEqual(variables);
  });

  it('reports every problem at once, in one message', () => {
    expect(() =>
      healthWatcherConfigFromEnv({ RINGMASTER_READY_PROBE_INTERVAL_MS: 'soon' }),
    ).toThrow(
      /KAFKA_BROKERS: required.*KUBECONFIG: required.*RINGMASTER_CONTEXTS: required.*RINGMASTER_READY_PROBE_INTERVAL_MS: must be an integer/,
    );
  });
});

describe('parseNamespaces', () => {
  it('`ns` goes to every cluster, `cluster/ns` to one, sorted and de-duplicated', () => {
    expect(parseNamespaces('mimir, eu-1/canary, us-1/mimir', ['us-1', 'eu-1'])).toEqual([
      { cluster: 'eu-1', namespace: 'canary' },
      { cluster: 'eu-1', namespace: 'mimir' },
      { cluster: 'us-1', namespace: 'mimir' },
    ]);
  });

  it('says what is wrong', () => {
    const bad: string[] = [];
    parseNamespaces('a/b/c, x/mimir, Not_A_Label', ['eu-1'], (p) => bad.push(p));
    expect(bad).toEqual([
      '"a/b/c" is neither "namespace" nor "cluster/namespace"',
      '"x/mimir": cluster "x" is not in RINGMASTER_CONTEXTS (eu-1)',
      expect.stringMatching(/^"Not_A_Label" must be an RFC 1123 label/),
    ]);
  });
});

describe('checkUrlTemplate', () => {
  it.each([
    ['http://{podIP}:8080/ready', undefined],
    ['https://proxy.example/{cluster}/{namespace}/{pod}/ready', undefined],
    ['http://{podIP}:{port}/ready', 'unknown placeholder(s) {port}'],
    ['{podIP}:8080', 'must be http:// or https://'],
    ['http//{podIP}/ready', 'is not a URL'],
  ])('%s', (template, problem) => {
    const got = checkUrlTemplate(template);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(problem);
  });
});
