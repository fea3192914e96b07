/**
 * The chaos suite (`npm run test:chaos`): each trigger against its emulator's fault injection,
 * at volume: forced disconnects of every kind, bad frames, rate limits, connection lifetime, a
 * revoked key, and activate/deactivate cycles with leak and heap checks. Run with `--expose-gc`
 * (the npm script does) so the heap figures are measured after a full collection.
 */
/** @type {import('jest').Config} */
module.exports = {
	rootDir: '../..',
	testEnvironment: 'node',
	roots: ['<rootDir>/test/chaos'],
	testMatch: ['**/*.chaos.ts'],
	transform: { '^.+\\.ts$': ['ts-jest', {}] },
	setupFiles: ['<rootDir>/test/setup/env.ts'],
	testTimeout: 120_000,
	// Timing matters here (keep-alive deadlines of a few hundred ms): one file at a time.
	maxWorkers: 1,
	reporters: ['default', ['<rootDir>/test/summaryReporter.js', { suite: 'chaos' }]],
	globalSetup: '<rootDir>/test/chaos/globalSetup.ts',
	globalTeardown: '<rootDir>/test/chaos/globalTeardown.ts',
};
