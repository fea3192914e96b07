/** Retries an assertion until it passes or `timeoutMs` runs out (then rethrows its last failure). */
export async function eventually(assertion: () => void | Promise<void>, timeoutMs = 3000, stepMs = 10): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			await assertion();
			return;
		} catch (error) {
			if (Date.now() > deadline) throw error;
			await new Promise((resolve) => setTimeout(resolve, stepMs));
		}
	}
}

/** Timers (setTimeout/setInterval) alive in this process: what a leak check compares. */
export function activeTimerCount(): number {
	return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How long a test watches for something that must NOT happen (an item after deactivation, a
 * reconnect that was cancelled): one named period instead of scattered fixed sleeps. Waiting for
 * something that must happen uses `eventually` instead.
 */
export const QUIET_PERIOD_MS = 700;

/** Waits out the quiet period, then checks that `assertion` still holds (nothing happened meanwhile). */
export async function staysTrue(assertion: () => void, quietMs = QUIET_PERIOD_MS): Promise<void> {
	await sleep(quietMs);
	assertion();
}
