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
