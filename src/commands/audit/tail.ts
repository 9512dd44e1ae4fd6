import path from 'node:path';
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import * as t from 'typanion';
import { rampartHome } from '../../util/paths.ts';

export class AuditTailCommand extends BaseCommand {
  static override paths = [['audit', 'tail']];

  static override usage = Command.Usage({
    category: 'Audit',
    description: 'show the most recent decisions from the audit log',
    details: `
      Prints the last decisions, oldest first, one per line: time (UTC), decision, agent/session,
      command (credentials already redacted) and the policy message. \`--json\` prints the stored
      records unchanged (NDJSON).
    `,
    examples: [
      ['The last 20 decisions', '$0 audit tail'],
      ['The last 100, as JSON', '$0 audit tail -n 100 --json'],
    ],
  });

  lines = Option.String('-n,--lines', '20', {
    description: 'How many decisions to show',
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 1_000_000)]),
  });
  json = Option.Boolean('--json', false, { description: 'Print the stored JSON records (one per line)' });
  auditDir = Option.String('--audit-dir', { description: 'Audit directory (default: ~/.rampart/audit)' });

  protected override async perform(): Promise<number> {
    const { formatRecord, tailAudit } = await import('../../audit/tail.ts');
    const dir = path.resolve(this.auditDir ?? path.join(rampartHome(), 'audit'));
    const records = tailAudit(dir, this.lines);
    if (records.length === 0 && !this.json) {
      this.context.stderr.write(`rampart audit tail: no decisions recorded in ${dir}\n`);
      return 0;
    }
    for (const { line, record } of records) this.context.stdout.write((this.json ? line : formatRecord(record)) + '\n');
    return 0;
  }
}
