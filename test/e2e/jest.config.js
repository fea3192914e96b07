/** The e2e suite: real n8n CLIs (1.x and 2.x), started as users run them, against the emulators. */
/** @type {import('jest').Config} */
module.exports = {
	rootDir: '../..',
	testEnvironment: 'node',
	roots: ['<rootDir>/test/e2e'],
	testMatch: ['**/*.e2e.ts'],
	// Transpile only: `tsc --noEmit` type-checks the suite; n8n start-up is what takes the time here.
	transform: { '^.+\\.ts$': ['ts-jest', {}] },
	testTimeout: 300_000,
	// n8n instances are heavy: one test file at a time.
	maxWorkers: 1,
	reporters: ['default', ['<rootDir>/test/summaryReporter.js', { suite: 'e2e' }]],
	globalSetup: '<rootDir>/test/e2e/globalSetup.ts',
	globalTeardown: '<rootDir>/test/e2e/globalTeardown.ts',
};
