import fs from 'node:fs';
import { Command, Option } from 'clipanion';
import { BaseCommand } from './base.ts';
// The engine and its YAML parser load only when this command runs (CLI start-up stays short).
type Engine = typeof import('../policy/index.ts') & typeof import('../policy/report.ts');

export class TestCommand extends BaseCommand {
  static override paths = [['test']];

  static override usage = Command.Usage({
    category: 'Policy',
    description: 'check a command, or run a policy test suite, against the policy',
    details: `
      With a command: evaluates it as the server would (tool \`exec\` unless \`--tool\`) and prints the decision, its message and the policies that fired. Policies: \`--config FILE\`, else the built-in policy plus ~/.rampart/policies/*.yaml. Exits 1 when the decision is deny.

      With a path ending in .yaml or .yml that exists: runs the test suite in it (\`policy:\` + \`tests:\`, the policy path relative to the suite), or the inline \`tests:\` of a policy file. \`--config\` replaces the suite's policy. Prints \`N passed, N failed (N total)\` and exits 1 if any test fails.

      Evaluation here is a preview: it never consumes \`once\` rules or counts calls. A policy file that fails to load is reported with file, line and reason (exit 2).
    `,
    examples: [
      ['Check a command', 'rampart test "rm -rf /"'],
      ['Check against a specific policy file', 'rampart test --config my-policy.yaml "curl https://example.com"'],
      ['Run a test suite', 'rampart test policies/tests.yaml'],
      ['Run only some tests, as JSON', 'rampart test tests.yaml --run "deny*" --json'],
    ],
  });

  config = Option.String('--config', { description: 'Policy file to use instead of the built-in policy and ~/.rampart/policies' });
  tool = Option.String('--tool', 'exec', { description: 'Tool name of the call (default: exec)' });
  agent = Option.String('--agent', '', { description: 'Agent name of the call (default: empty)' });
  session = Option.String('--session', '', { description: 'Session name of the call (default: empty)' });
  run = Option.String('--run', { description: 'Suite mode: only run tests whose name matches this glob' });
  json = Option.Boolean('--json', false, { description: 'Print the result as JSON' });
  target = Option.String({ name: 'command-or-suite' });

  protected override async perform(): Promise<number> {
    const engine: Engine = { ...(await import('../policy/index.ts')), ...(await import('../policy/report.ts')) };
    // A policy file that fails to load is a PolicyLoadError: file:line: reason, exit 2 (base.ts).
    return /\.ya?ml$/i.test(this.target) && fs.existsSync(this.target) ? this.runSuiteFile(engine) : this.checkCommand(engine);
  }

  private checkCommand({ evaluate, loadPolicyFile, loadServePolicies, formatDecision }: Engine): number {
    if (this.run !== undefined) this.context.stderr.write('rampart: --run only applies to test suites; ignored\n');
    const set = this.config !== undefined ? loadPolicyFile(this.config) : loadServePolicies({});
    const params = this.tool.trim().toLowerCase() === 'exec' ? { command: this.target } : { path: this.target, url: this.target };
    const decision = evaluate(set, { agent: this.agent, session: this.session, tool: this.tool, params });
    if (this.json) {
      const { evalDurationUs, ...rest } = decision;
      this.context.stdout.write(`${JSON.stringify({ command: this.target, tool: this.tool, ...rest, evalDurationUs })}\n`);
    } else this.context.stdout.write(formatDecision(this.target, this.tool, decision));
    return decision.action === 'deny' ? 1 : 0;
  }

  private runSuiteFile({ loadSuite, runSuite, formatSuiteResult }: Engine): number {
    const suite = loadSuite(this.target);
    const result = runSuite(suite, { ...(this.run !== undefined ? { run: this.run } : {}), ...(this.config !== undefined ? { config: this.config } : {}) });
    this.context.stdout.write(this.json ? `${JSON.stringify(result)}\n` : formatSuiteResult(result));
    return result.failed > 0 || result.errors > 0 ? 1 : 0;
  }
}
