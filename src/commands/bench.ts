import { Command, Option } from 'clipanion';
import { BaseCommand } from './base.ts';
import * as t from 'typanion';
import { builtinPolicyPath } from '../util/paths.ts';

export class BenchCommand extends BaseCommand {
  static override paths = [['bench']];

  static override usage = Command.Usage({
    category: 'Policy',
    description: 'score a policy against an attack corpus',
    details: `
      Evaluates every case of the corpus (version "2" \`cases:\`, or a versionless v1 \`entries:\` file) against the policy file (\`--policy\`, default: the built-in policy) and prints the weighted coverage (critical 3, high 2, medium 1) and the cases it misses. A case is covered when the decision equals the expectation; an \`ask\` also covers an expected \`deny\` unless \`--strict\`.

      \`--os\` keeps the cases for that OS plus the OS-independent ones (default: this host; \`all\` keeps every case). With \`--min-coverage N\` the exit code is 1 when the coverage is below N percent.
    `,
    examples: [
      ['Score the built-in policy', 'rampart bench --corpus bench/corpus.yaml'],
      ['Score a policy, strict, all OSes, fail under 80%', 'rampart bench --corpus corpus.yaml --policy my.yaml --os all --strict --min-coverage 80'],
    ],
  });

  corpus = Option.String('--corpus', { required: true, description: 'Attack corpus YAML file' });
  policy = Option.String('--policy', { description: 'Policy file to score (default: the built-in policy)' });
  os = Option.String('--os', process.platform === 'win32' ? 'windows' : process.platform, {
    description: 'Keep cases for this OS: linux, darwin, windows or all (default: this host)',
    validator: t.isEnum(['linux', 'darwin', 'windows', 'all']),
  });
  strict = Option.Boolean('--strict', false, { description: 'Only exact matches count (an ask no longer covers a deny)' });
  json = Option.Boolean('--json', false, { description: 'Print the score and every case as JSON' });
  minCoverage = Option.String('--min-coverage', {
    description: 'Exit 1 when the weighted coverage (percent) is below this',
    validator: t.cascade(t.isNumber(), [t.isInInclusiveRange(0, 100)]),
  });

  protected override async perform(): Promise<number> {
    // The engine and its YAML parser load only when this command runs (CLI start-up stays short).
    const { loadCorpus, loadPolicyFile, scoreCorpus } = await import('../policy/index.ts');
    const { formatCorpusScore } = await import('../policy/report.ts');
    const policy = this.policy ?? builtinPolicyPath;
    // A corpus or policy file that fails to load is a PolicyLoadError: file:line: reason, exit 2 (base.ts).
    const corpus = loadCorpus(this.corpus);
    const corpusName = corpus.name || this.corpus;
    const score = scoreCorpus(loadPolicyFile(policy), corpus, { os: this.os, strict: this.strict });
    if (this.json) this.context.stdout.write(`${JSON.stringify({ corpus: this.corpus, policy, ...score })}\n`);
    else this.context.stdout.write(formatCorpusScore(score, corpusName, policy));
    if (this.minCoverage !== undefined && score.coverage < this.minCoverage) {
      this.context.stderr.write(`rampart: coverage ${score.coverage.toFixed(1)}% is below --min-coverage ${this.minCoverage}%\n`);
      return 1;
    }
    return 0;
  }
}
