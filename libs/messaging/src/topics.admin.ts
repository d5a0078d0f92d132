/**
 * Creates every Ringmaster topic that doesn't exist yet, with its partitions and configs from
 * contracts (TOPIC_SPECS), and reports existing topics whose settings differ. Idempotent and
 * safe to run from every service at startup, concurrently: a topic another process created
 * first counts as existing. Existing topics are never altered (they may be managed by an
 * operator or GitOps); a mismatch is returned for the caller to log or refuse.
 */
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { topicSpecs, type TopicSpec } from '@ringmaster/contracts';

export interface EnsureTopicsOptions {
  /** Topic name prefix (KafkaSettings.topicPrefix). */
  prefix?: string;
  /** Instead of all of contracts' topics (tests). */
  specs?: readonly TopicSpec[];
  /** -1 (default): the broker's default.replication.factor. */
  replicationFactor?: number;
  timeoutMs?: number;
}

export interface TopicMismatch {
  topic: string;
  setting: string;
  expected: string;
  actual: string;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Existing topics whose partition count is lower or whose configs differ from the spec. */
  mismatches: TopicMismatch[];
}

export async function ensureTopics(
  admin: Admin,
  options: EnsureTopicsOptions = {},
): Promise<EnsureTopicsResult> {
  const specs = options.specs ?? topicSpecs(options.prefix ?? '');
  const present = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !present.has(s.name));
  const created: string[] = [];
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      timeout: options.timeoutMs ?? 30_000,
      topics: missing.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: options.replicationFactor ?? -1,
        configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
      })),
    });
    // createTopics resolves false when some already existed (another process won the race);
    // either way every missing one exists now. Re-list to report only what we created.
    const after = new Set(await admin.listTopics());
    for (const s of missing) if (after.has(s.name)) created.push(s.name);
  }
  const existing = specs.filter((s) => present.has(s.name));
  return {
    created,
    existing: existing.map((s) => s.name),
    mismatches: await findMismatches(admin, existing),
  };
}

async function findMismatches(admin: Admin, specs: readonly TopicSpec[]): Promise<TopicMismatch[]> {
  if (specs.length === 0) return [];
  const out: TopicMismatch[] = [];
  const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
  for (const s of specs) {
    const t = topics.find((x) => x.name === s.name);
    if (t && t.partitions.length < s.partitions) {
      out.push({
        topic: s.name,
        setting: 'partitions',
        expected: String(s.partitions),
        actual: String(t.partitions.length),
      });
    }
  }
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: specs.map((s) => ({
      type: ConfigResourceTypes.TOPIC,
      name: s.name,
      configNames: Object.keys(s.configs),
    })),
  });
  for (const r of described.resources) {
    const spec = specs.find((s) => s.name === r.resourceName);
    if (!spec) continue;
    for (const [setting, expected] of Object.entries(spec.configs)) {
      const actual = r.configEntries.find((c) => c.configName === setting)?.configValue ?? '';
      if (actual !== expected) out.push({ topic: spec.name, setting, expected, actual });
    }
  }
  return out;
}
