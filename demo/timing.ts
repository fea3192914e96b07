/** Waiting and stopping, shared by the sandbox's modules. */

// Set on Ctrl-C / SIGTERM (or a crash): every wait below ends early, then the run judges and shuts down cleanly.
let stopRequested = false;

export function stopOnSignals(): void {
	for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, requestStop);
}

export function requestStop(): void {
	stopRequested = true;
}

export const isStopRequested = (): boolean => stopRequested;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` until it holds, `timeoutMs` runs out or a stop is requested; says whether it holds. */
export async function waitUntil(done: () => boolean, timeoutMs: number, pollMs = 5): Promise<boolean> {
	for (const end = Date.now() + timeoutMs; !done() && !stopRequested && Date.now() < end; ) await sleep(pollMs);
	return done();
}

/** With --forever: `next` every `everyMs` until Ctrl-C (short slices, so Ctrl-C is not kept waiting). */
export async function repeatUntilStopped(everyMs: number, next: (round: number) => Promise<void>): Promise<void> {
	for (let round = 0; !stopRequested; round += 1) {
		await waitUntil(() => false, everyMs, 50);
		if (!stopRequested) await next(round);
	}
}
