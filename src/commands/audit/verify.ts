import path from 'node:path';
import fs from 'node:fs';
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { rampartHome } from '../../util/paths.ts';

export class AuditVerifyCommand extends BaseCommand {
  static override paths = [['audit', 'verify']];

  static override usage = Command.Usage({
    category: 'Audit',
    description: 'check the hash chain of the audit log',
    details: `
      Reads every \`YYYY-MM-DD.jsonl\` file of the audit directory in order and checks that each
      record's hash matches its content, that each record links to the one before it, and that each
      new file continues the chain of the previous one. Names the first broken file and line and
      exits 1; exits 0 when the chain is intact.
    `,
    examples: [
      ['Check ~/.rampart/audit', '$0 audit verify'],
      ['Check another directory', '$0 audit verify --audit-dir ./audit'],
    ],
  });

  auditDir = Option.String('--audit-dir', { description: 'Audit directory (default: ~/.rampart/audit)' });

  protected override async perform(): Promise<number> {
    const { verifyAuditDir } = await import('../../audit/verify.ts');
    const { stdout, stderr } = this.context;
    const dir = path.resolve(this.auditDir ?? path.join(rampartHome(), 'audit'));
    if (!fs.existsSync(dir)) {
      stderr.write(`rampart audit verify: ${dir} does not exist\n`);
      return 1;
    }
    const result = verifyAuditDir(dir);
    if (!result.ok) {
      const { file, line, reason } = result.error!;
      stdout.write(`audit chain BROKEN at ${file}:${line}: ${reason}\n`);
      stdout.write(`(${result.events} records before it verified)\n`);
      return 1;
    }
    stdout.write(`audit chain OK: ${result.events} records in ${result.files} file${result.files === 1 ? '' : 's'} (${dir})\n`);
    return 0;
  }
}
