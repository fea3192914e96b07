import { engineLogs } from './n8nEngine';
import type { TestScope } from './testScope';

export interface EmulatorPerTestOptions {
	/** Ended after each test, before the emulator closes, so no trigger or timer reaches a closed emulator. */
	scope: TestScope;
	/** Starts this test's emulator (and assigns the file's variable, which a test may replace). */
	start(): Promise<unknown>;
	/** Closes the file's current emulator. */
	close(): Promise<void>;
	/** What no engine log line of the file may contain: keys, tokens. */
	secrets: string[];
	/** Whether each test starts with an empty engine log, for tests that read the log. */
	clearEngineLogs: boolean;
}

/** The hooks of a test file that runs each test against a fresh emulator. */
export function emulatorPerTest(options: EmulatorPerTestOptions): void {
	beforeEach(async () => {
		await options.start();
		if (options.clearEngineLogs) engineLogs.clear();
	});

	afterEach(async () => {
		await options.scope.end();
		await options.close();
	});

	afterAll(() => {
		// The secrets never reach a log line, whatever happened in the file.
		const logs = engineLogs.text();
		for (const secret of options.secrets) expect(logs).not.toContain(secret);
	});
}
