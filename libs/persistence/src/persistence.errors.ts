/**
 * Errors the repositories throw on purpose. `retriable` is read by messaging's classifyError:
 * a version conflict means someone else wrote the rollout first; reload, decide again, retry.
 */

/** saveDecision found a newer version than the one the decision was based on. */
export class RolloutVersionConflictError extends Error {
  readonly retriable = true;
  readonly code = 'ROLLOUT_VERSION_CONFLICT';
  constructor(
    readonly rolloutId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(
      `rollout ${rolloutId} is at version ${actualVersion}, not ${expectedVersion}: reload and decide again`,
    );
    this.name = 'RolloutVersionConflictError';
  }
}

/** The rollout does not exist (never did, or was deleted). */
export class RolloutNotFoundError extends Error {
  readonly retriable = false;
  readonly code = 'ROLLOUT_NOT_FOUND';
  constructor(readonly rolloutId: string) {
    super(`rollout ${rolloutId} not found`);
    this.name = 'RolloutNotFoundError';
  }
}

/** A list cursor that this repository did not produce (or that was tampered with). */
export class InvalidCursorError extends Error {
  readonly retriable = false;
  readonly code = 'INVALID_CURSOR';
  constructor(readonly cursor: string) {
    super(`invalid cursor: ${cursor.slice(0, 100)}`);
    this.name = 'InvalidCursorError';
  }
}

/**
 * A target of a new rollout is held by a rollout that is still active (pending, running, paused
 * or blocked): two rollouts deciding over one target would each spend the same availability
 * budget. Not retriable as such: the caller waits for that rollout to end, or aborts it.
 */
export class TargetBusyError extends Error {
  readonly retriable = false;
  readonly code = 'TARGET_BUSY';
  constructor(readonly holders: { target: string; rolloutId: string; status: string }[]) {
    super(
      holders
        .map((h) => `${h.target} has an active rollout ${h.rolloutId} (${h.status})`)
        .join('; '),
    );
    this.name = 'TargetBusyError';
  }
}
