import type { NormalizedItem } from './NormalizedItem';

/** No final status before the deadline. Carries the last item seen, if any. */
export class WaitTimeoutError extends Error {
	constructor(
		message: string,
		readonly lastItem: NormalizedItem | null,
	) {
		super(message);
		this.name = 'WaitTimeoutError';
	}
}

export interface FinalWatchHandlers {
	/** Every item the watch sees; the wait ends at the first final one. */
	observe(item: NormalizedItem): void;
	/** Ends the wait with an error no waiting can outlast (unknown id, refused key…). */
	fail(error: Error): void;
}

export interface WaitUntilFinalOptions {
	/** Names the thing waited for in messages, e.g. "Kurier job 1234…". */
	subject: string;
	/** "status" or "step": how the service calls its states, for the timeout message. */
	stateName: string;
	timeoutMs: number;
	/** n8n's execution-cancel signal: stop waiting when the execution is cancelled. */
	signal?: AbortSignal;
}

/**
 * The wait/timeout/cancel frame the "wait for …" operations share. `watch` starts whatever follows
 * the id (a stream, polling) and returns how to stop it; that stop always runs before this settles,
 * so no socket or timer outlives the wait.
 */
export async function waitUntilFinal(
	options: WaitUntilFinalOptions,
	watch: (handlers: FinalWatchHandlers) => () => Promise<void>,
): Promise<NormalizedItem> {
	let lastItem: NormalizedItem | null = null;
	let settle!: { resolve(item: NormalizedItem): void; reject(error: Error): void };
	const done = new Promise<NormalizedItem>((resolve, reject) => (settle = { resolve, reject }));

	const timeout = setTimeout(() => {
		const last = lastItem ? `its last ${options.stateName} was ${lastItem.status}` : `no ${options.stateName} was received`;
		settle.reject(new WaitTimeoutError(`${options.subject} was not final after ${Math.round(options.timeoutMs / 1000)} s (${last})`, lastItem));
	}, options.timeoutMs);
	const onAbort = () => settle.reject(new Error(`Waiting for ${options.subject} was cancelled`));
	options.signal?.addEventListener('abort', onAbort, { once: true });
	if (options.signal?.aborted) onAbort();

	const stop = watch({
		observe: (item) => {
			lastItem = item;
			if (item.isFinal) settle.resolve(item);
		},
		fail: (error) => settle.reject(error),
	});
	try {
		return await done;
	} finally {
		clearTimeout(timeout);
		options.signal?.removeEventListener('abort', onAbort);
		await stop();
	}
}

/**
 * The REST poll a wait runs beside its stream: `poll` reads once (with `signal`, aborted when the
 * wait ends) and calls `schedule` for the next read. `stop` is part of the wait's stop: after it no
 * read starts and the one in flight is aborted.
 */
export class WaitPolling {
	private readonly requests = new AbortController();
	private timer: NodeJS.Timeout | null = null;
	private ended = false;

	constructor(private readonly poll: () => Promise<void>) {}

	/** Aborted when the wait ends: the poll's request takes it. */
	get signal(): AbortSignal {
		return this.requests.signal;
	}

	/** Whether the wait has ended, e.g. to tell an aborted read from a failed one. */
	get stopped(): boolean {
		return this.ended;
	}

	schedule(delayMs: number): void {
		// A poll that was in flight when the wait ended must not start another.
		if (!this.ended) this.timer = setTimeout(() => void this.poll(), delayMs);
	}

	stop(): void {
		this.ended = true;
		this.requests.abort();
		if (this.timer) clearTimeout(this.timer);
	}
}

/**
 * The final state as the service's REST read gives it (it has more fields than a stream's item),
 * or `finalItem` when that read fails (`onReadError` says why) or is somehow not final.
 */
export async function finalSnapshotOr(finalItem: NormalizedItem, read: () => Promise<NormalizedItem>, onReadError: (error: unknown) => void): Promise<NormalizedItem> {
	try {
		const snapshot = await read();
		if (snapshot.isFinal) return snapshot;
	} catch (error) {
		onReadError(error);
	}
	return finalItem;
}
