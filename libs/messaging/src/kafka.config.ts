/**
 * Kafka settings, read once at startup from the environment and validated there: every problem
 * is reported at once, each naming its variable, and the service stops before connecting.
 *
 *   KAFKA_BROKERS             host:port[,host:port...] (required)
 *   KAFKA_CLIENT_ID           client id shown in broker logs/quotas (default: the service's name)
 *   KAFKA_SSL                 true|false (default false; true when KAFKA_SSL_CA_FILE is set)
 *   KAFKA_SSL_CA_FILE         PEM file of the CA that signed the brokers' certificates
 *   KAFKA_SASL_MECHANISM      plain|scram-sha-256|scram-sha-512 (unset: no SASL)
 *   KAFKA_SASL_USERNAME       required with a mechanism
 *   KAFKA_SASL_PASSWORD       the password, or
 *   KAFKA_SASL_PASSWORD_FILE  a file holding it (a mounted Secret); exactly one of the two
 *   KAFKA_TOPIC_PREFIX        prefix for every topic name (default none), see topicNames()
 *   KAFKA_REPLICATION_FACTOR  for topics ensureTopics creates (default: the broker's default)
 *   KAFKA_LOG_LEVEL           nothing|error|warn|info|debug (default warn)
 *   KAFKA_SESSION_TIMEOUT_MS  consumer group session timeout (default 30000, at least 6000, the
 *                             broker's minimum): how long the partitions of a member that died
 *                             without leaving (SIGKILL, a lost node) wait before the group hands
 *                             them to another member, e.g. a dead executor's clusters (and
 *                             how long a group stalls after a broker restart, when kafkajs
 *                             rejoins as a new member while the old one is still listed)
 *
 * Secrets: the password lives only in the returned settings; log `redactedConfig(settings)`.
 */
import { readFileSync } from 'node:fs';
import { type KafkaConfig, logLevel as LogLevel, type SASLOptions } from 'kafkajs';
import { topicNames, type TopicNames } from '@ringmaster/contracts';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
const MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];
const LOG_LEVELS = {
  nothing: LogLevel.NOTHING,
  error: LogLevel.ERROR,
  warn: LogLevel.WARN,
  info: LogLevel.INFO,
  debug: LogLevel.DEBUG,
};

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** false, or TLS with the CA's PEM when a file was given (system CAs otherwise). */
  ssl: false | { ca?: string };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  topicPrefix: string;
  /** Topic names under the prefix. */
  topics: TopicNames;
  /** -1: the broker's default.replication.factor. */
  replicationFactor: number;
  logLevel: keyof typeof LOG_LEVELS;
  /** Consumer group session timeout (ms); heartbeats go every tenth of it. */
  sessionTimeoutMs: number;
  /** Things that are allowed but worth a line in the log (e.g. SASL PLAIN without TLS). */
  warnings: string[];
}

export interface KafkaConfigProblem {
  variable: string;
  problem: string;
}

/** One or more settings are missing or wrong; `problems` names each variable. */
export class KafkaConfigError extends Error {
  readonly retriable = false;
  constructor(readonly problems: KafkaConfigProblem[]) {
    super(
      `invalid Kafka configuration: ${problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')}`,
    );
    this.name = 'KafkaConfigError';
  }
}

const HOST_PORT = /^[A-Za-z0-9._-]+:(\d{1,5})$|^\[[0-9a-fA-F:]+\]:(\d{1,5})$/;

export function kafkaConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  defaults: { clientId?: string } = {},
): KafkaSettings {
  const problems: KafkaConfigProblem[] = [];
  const bad = (variable: string, problem: string) => problems.push({ variable, problem });
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };

  const brokersRaw = get('KAFKA_BROKERS');
  const brokers = (brokersRaw ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) bad('KAFKA_BROKERS', 'required (host:port[,host:port...])');
  for (const b of brokers) {
    const m = HOST_PORT.exec(b);
    const port = Number(m?.[1] ?? m?.[2]);
    if (!m || port < 1 || port > 65535) bad('KAFKA_BROKERS', `"${b}" is not host:port`);
  }

  const clientId = get('KAFKA_CLIENT_ID') ?? defaults.clientId ?? 'ringmaster';
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(clientId))
    bad('KAFKA_CLIENT_ID', 'only letters, digits, ".", "_" and "-"');

  const caFile = get('KAFKA_SSL_CA_FILE');
  const sslFlag = parseBool(get('KAFKA_SSL'), () => bad('KAFKA_SSL', 'must be true or false'));
  if (sslFlag === false && caFile) bad('KAFKA_SSL_CA_FILE', 'is set but KAFKA_SSL=false');
  let ssl: KafkaSettings['ssl'] = false;
  if (sslFlag || caFile) {
    ssl = {};
    if (caFile) {
      try {
        ssl.ca = readFileSync(caFile, 'utf8');
      } catch (e) {
        bad('KAFKA_SSL_CA_FILE', `cannot read ${caFile}: ${(e as Error).message}`);
      }
    }
  }

  let sasl: KafkaSettings['sasl'];
  const mechanism = get('KAFKA_SASL_MECHANISM')?.toLowerCase();
  const username = get('KAFKA_SASL_USERNAME');
  const password = env.KAFKA_SASL_PASSWORD; // not trimmed: spaces may be part of it
  const passwordFile = get('KAFKA_SASL_PASSWORD_FILE');
  if (mechanism === undefined) {
    for (const v of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE']) {
      if (env[v]) bad(v, 'is set but KAFKA_SASL_MECHANISM is not');
    }
  } else if (!(MECHANISMS as readonly string[]).includes(mechanism)) {
    bad('KAFKA_SASL_MECHANISM', `must be one of ${MECHANISMS.join(', ')}`);
  } else {
    if (!username) bad('KAFKA_SASL_USERNAME', `required with KAFKA_SASL_MECHANISM=${mechanism}`);
    let secret: string | undefined;
    if (password && passwordFile)
      bad(
        'KAFKA_SASL_PASSWORD_FILE',
        'set only one of KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE',
      );
    else if (passwordFile) {
      try {
        // A trailing newline is an artifact of how the file was written, not part of the secret.
        secret = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        bad(
          'KAFKA_SASL_PASSWORD_FILE',
          `cannot read ${passwordFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
    } else if (password) secret = password;
    else
      bad(
        'KAFKA_SASL_PASSWORD',
        `required with KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_PASSWORD_FILE)`,
      );
    if (secret === '') bad('KAFKA_SASL_PASSWORD_FILE', 'the file is empty');
    if (username && secret)
      sasl = { mechanism: mechanism as SaslMechanism, username, password: secret };
  }

  const topicPrefix = get('KAFKA_TOPIC_PREFIX') ?? '';
  if (!/^[A-Za-z0-9._-]*$/.test(topicPrefix))
    bad('KAFKA_TOPIC_PREFIX', 'only letters, digits, ".", "_" and "-"');

  const rfRaw = get('KAFKA_REPLICATION_FACTOR');
  const replicationFactor = rfRaw === undefined ? -1 : Number(rfRaw);
  if (!Number.isInteger(replicationFactor) || (replicationFactor < 1 && replicationFactor !== -1)) {
    bad('KAFKA_REPLICATION_FACTOR', `must be a positive integer (got ${rfRaw})`);
  }

  const level = (get('KAFKA_LOG_LEVEL') ?? 'warn').toLowerCase();
  if (!(level in LOG_LEVELS))
    bad('KAFKA_LOG_LEVEL', `must be one of ${Object.keys(LOG_LEVELS).join(', ')}`);

  const sessionRaw = get('KAFKA_SESSION_TIMEOUT_MS');
  const sessionTimeoutMs = sessionRaw === undefined ? 30_000 : Number(sessionRaw);
  if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < 6_000 || sessionTimeoutMs > 300_000)
    bad('KAFKA_SESSION_TIMEOUT_MS', `must be an integer from 6000 to 300000 (got ${sessionRaw})`);

  if (problems.length > 0) throw new KafkaConfigError(problems);

  const warnings: string[] = [];
  if (sasl && !ssl)
    warnings.push(
      `SASL ${sasl.mechanism} without TLS: credentials and data cross the network unencrypted`,
    );
  return {
    brokers,
    clientId,
    ssl,
    sasl,
    topicPrefix,
    topics: topicNames(topicPrefix),
    replicationFactor,
    logLevel: level as keyof typeof LOG_LEVELS,
    sessionTimeoutMs,
    warnings,
  };
}

/** Group timeouts of a ConsumerRunner's consumer (its `consumerConfig`) for these settings. */
export function groupTimeouts(settings: KafkaSettings): {
  sessionTimeout: number;
  heartbeatInterval: number;
} {
  return {
    sessionTimeout: settings.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(settings.sessionTimeoutMs / 10)),
  };
}

/** Settings safe to log: the password masked, the CA shown by size. */
export function redactedConfig(settings: KafkaSettings): Record<string, unknown> {
  return {
    brokers: settings.brokers,
    clientId: settings.clientId,
    ssl:
      settings.ssl === false
        ? false
        : settings.ssl.ca
          ? { ca: `<${settings.ssl.ca.length} chars>` }
          : true,
    sasl: settings.sasl
      ? { mechanism: settings.sasl.mechanism, username: settings.sasl.username, password: '***' }
      : undefined,
    topicPrefix: settings.topicPrefix,
    replicationFactor: settings.replicationFactor,
    logLevel: settings.logLevel,
    sessionTimeoutMs: settings.sessionTimeoutMs,
  };
}

/** kafkajs client config for these settings. */
export function toKafkaConfig(settings: KafkaSettings): KafkaConfig {
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: LOG_LEVELS[settings.logLevel],
    // Retries inside kafkajs cover short broker blips; longer outages surface as retriable
    // errors to the caller (the ConsumerRunner backs off and retries the message).
    retry: { initialRetryTime: 300, retries: 8 },
  };
  if (settings.ssl)
    config.ssl = settings.ssl.ca ? { ca: [settings.ssl.ca], rejectUnauthorized: true } : true;
  if (settings.sasl) config.sasl = { ...settings.sasl } as SASLOptions;
  return config;
}

function parseBool(value: string | undefined, onError: () => void): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  onError();
  return undefined;
}
