import type { Command } from '@ringmaster/rollout-core';
import { commandsAudit } from './rollout.engine';

describe('commandsAudit: every released command named in the audit trail', () => {
  const target = { cluster: 'kwok-1', namespace: 'mimir' };
  it('one entry per decision, with each command id, kind and object', () => {
    const commands: Command[] = [
      {
        kind: 'apply-template',
        id: 'r1:1',
        rolloutId: 'r1',
        target,
        workload: 'ingester-zone-a',
        change: { kind: 'restart' },
        takeOver: false,
      },
      {
        kind: 'restart-pod',
        id: 'r1:2',
        rolloutId: 'r1',
        target,
        pod: 'ingester-zone-a-0',
        uid: 'u1',
        method: 'evict',
      },
    ];
    expect(commandsAudit(commands, 5)).toEqual({
      at: 5,
      type: 'commands',
      message:
        'issued 2 command(s): r1:1 apply-template kwok-1/mimir/ingester-zone-a, r1:2 restart-pod kwok-1/mimir/ingester-zone-a-0',
      data: {
        commands: [
          {
            id: 'r1:1',
            kind: 'apply-template',
            target: 'kwok-1/mimir',
            workload: 'ingester-zone-a',
          },
          {
            id: 'r1:2',
            kind: 'restart-pod',
            target: 'kwok-1/mimir',
            pod: 'ingester-zone-a-0',
            uid: 'u1',
          },
        ],
      },
    });
  });

  it('shows 20 in the message, keeps all in data', () => {
    const many: Command[] = Array.from({ length: 25 }, (_, i) => ({
      kind: 'restart-pod',
      id: `r1:${i}`,
      rolloutId: 'r1',
      target,
      pod: `p-${i}`,
      uid: `u${i}`,
      method: 'evict',
    }));
    const a = commandsAudit(many, 0);
    expect(a.message).toMatch(
      /^issued 25 command\(s\): r1:0 .*r1:19 restart-pod kwok-1\/mimir\/p-19, \.\.\.$/,
    );
    expect((a.data as { commands: unknown[] }).commands).toHaveLength(25);
  });
});
