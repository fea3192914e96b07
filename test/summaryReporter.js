/**
 * A jest reporter that keeps the run's counts in .tmp/jest-<suite>.json, so that `.ci/run` can print
 * one plain closing line for the unit and e2e runs of `npm test` together.
 */
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
	constructor(globalConfig, options) {
		this.file = join(globalConfig.rootDir, '.tmp', `jest-${options.suite}.json`);
	}

	onRunComplete(_contexts, results) {
		mkdirSync(join(this.file, '..'), { recursive: true });
		const { numPassedTests, numFailedTests, numPendingTests, numTotalTests, numFailedTestSuites, numRuntimeErrorTestSuites } = results;
		writeFileSync(this.file, JSON.stringify({ numPassedTests, numFailedTests, numPendingTests, numTotalTests, numFailedTestSuites, numRuntimeErrorTestSuites }));
	}
}

module.exports = SummaryReporter;
