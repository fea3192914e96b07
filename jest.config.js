/** @type {import('jest').Config} */
module.exports = {
	preset: 'ts-jest',
	testEnvironment: 'node',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	transform: { '^.+\\.ts$': ['ts-jest', {}] },
	setupFiles: ['<rootDir>/test/setup/env.ts'],
	testTimeout: 20000,
	reporters: ['default', ['<rootDir>/test/summaryReporter.js', { suite: 'unit' }]],
};
