import type { CommandOutcome } from '@ringmaster/rollout-core';

/**
 * What a Kubernetes action reports back (the executor turns it into a `command-result` event).
 * Retriable failures are not results: they are thrown as KubeRetriableError.
 */
export interface KubeCommandResult {
  outcome: CommandOutcome;
  /** Why: the PDB's refusal, the permanent error, "pod already replaced (uid ...)". */
  detail?: string;
  /** Template changes: the workload's metadata.generation after the patch. */
  generation?: number;
}
