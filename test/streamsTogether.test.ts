/**
 * The trigger glue's start: several streams as one trigger (one per id), where nothing is emitted
 * until all of them started, and the start policy that decides, for every service alike, whether a
 * failed start fails the activation or is started again in the background.
 */
import type { ItemStream, StartPolicy, StreamHandlers } from '../nodes/shared/n8n';
import { BackgroundStartingStream, isRetryableStartFailure, streamsStartedTogether } from '../nodes/shared/n8n';
import { checkpointStoreOver } from '../nodes/shared/checkpoints';
import { ServiceApiError, ServiceUnreachableError } from '../nodes/shared/http';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { SocketFatalError } from '../nodes/shared/ReconnectingSocket';
import { TransitionTracker } from '../nodes/shared/TransitionTracker';
import { eventually, staysTrue } from './helpers/wait';

const FAST_STEPS = { initialMs: 20, maxMs: 40, factor: 2 };

function item(id: string): NormalizedItem {
	return { source: 'allfeat-ats', id, status: 'validating', phase: 'pending', isFinal: false, progress: 10, txHash: null, blockHash: null, blockNumber: null, chainId: null, explorerUrl: null, error: null, occurredAt: '', receivedAt: '', details: {} };
}

/** Handlers as runStreamTrigger builds them, for `policy`; `fatal` collects what reaches onFatal. */
function handlersCollecting(into: string[], policy: StartPolicy = 'failActivation', fatal: Error[] = []): StreamHandlers {
	const onFatal = (error: Error) => fatal.push(error);
	return {
		onItem: (emitted) => into.push(emitted.id),
		onFatal,
		checkpoints: checkpointStoreOver({}),
		withStartPolicy: (create) => (policy === 'retryInBackground' ? new BackgroundStartingStream(create, { redact: (text) => text, onFatal, steps: FAST_STEPS }) : create()),
	};
}

/** A stream that emits its id at once when started, and starts (or fails) when told. */
function scriptedStream(id: string, onItem: (item: NormalizedItem) => void, started: Promise<void>): ItemStream & { closed: boolean } {
	const stream = {
		closed: false,
		start: async () => {
			onItem(item(id));
			await started;
		},
		close: async () => {
			stream.closed = true;
		},
	};
	return stream;
}

/**
 * Starts `parts` together with a part "b" (it emits its id) that starts only when released:
 * until then nothing may have reached `seen`; resolves once all started.
 */
async function startHeldBySlowStream(handlers: StreamHandlers, parts: Array<(onItem: StreamHandlers['onItem']) => ItemStream>, seen: unknown[]): Promise<void> {
	let releaseSlow: () => void = () => undefined;
	const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
	let slowEmitted = false;
	const slowPart = (onItem: StreamHandlers['onItem']) =>
		scriptedStream('b', (emitted) => {
			slowEmitted = true;
			onItem(emitted);
		}, slow);
	const combined = streamsStartedTogether(handlers, [...parts, slowPart]);
	const starting = combined.start();
	// Every stream has handed over its item; none may come out while "b" has not started.
	await eventually(() => expect(slowEmitted).toBe(true));
	await staysTrue(() => expect(seen).toEqual([]));
	releaseSlow();
	await starting;
}

test('items of the streams that started wait for the slowest one, then come in order', async () => {
	const emitted: string[] = [];
	await startHeldBySlowStream(handlersCollecting(emitted), [(onItem) => scriptedStream('a', onItem, Promise.resolve())], emitted);
	expect(emitted).toEqual(['a', 'b']);
});

test('a user activating: when one stream fails to start, nothing at all is emitted and every stream is closed', async () => {
	const emitted: string[] = [];
	const streams: Array<{ closed: boolean }> = [];
	const made = (id: string, started: () => Promise<void>) => (onItem: StreamHandlers['onItem']) => {
		const stream = scriptedStream(id, onItem, started());
		streams.push(stream);
		return stream;
	};
	const combined = streamsStartedTogether(handlersCollecting(emitted), [made('a', async () => undefined), made('b', async () => await Promise.reject(new Error('refused')))]);
	await expect(combined.start()).rejects.toThrow('refused');
	await combined.close();
	expect(emitted).toEqual([]);
	expect(streams.every((stream) => stream.closed)).toBe(true);
});

test('n8n starting: one id whose service is away holds no other back, and starts by itself once it answers', async () => {
	const emitted: string[] = [];
	let away = true;
	let attempts = 0;
	const flaky = (onItem: StreamHandlers['onItem']): ItemStream => ({
		start: async () => {
			attempts += 1;
			if (away) throw new ServiceUnreachableError('Could not reach http://127.0.0.1:1');
			onItem(item('b'));
		},
		close: async () => undefined,
	});
	const combined = streamsStartedTogether(handlersCollecting(emitted, 'retryInBackground'), [(onItem) => scriptedStream('a', onItem, Promise.resolve()), flaky]);
	await combined.start();
	expect(emitted).toEqual(['a']);
	await eventually(() => expect(attempts).toBeGreaterThanOrEqual(3));
	away = false;
	await eventually(() => expect(emitted).toEqual(['a', 'b']));
	const attemptsWhenStarted = attempts;
	await combined.close();
	await staysTrue(() => expect(attempts).toBe(attemptsWhenStarted));
});

describe('the start policy when n8n starts (retryInBackground)', () => {
	test('a retryable failure resolves start, closes the failed attempt and starts a fresh stream after the backoff', async () => {
		const made: Array<{ closed: boolean }> = [];
		let failuresLeft = 2;
		const background = new BackgroundStartingStream(
			() => {
				const stream = { closed: false, start: async () => (failuresLeft-- > 0 ? await Promise.reject(new SocketFatalError('Could not connect', 'unreachable')) : undefined), close: async () => void (stream.closed = true) };
				made.push(stream);
				return stream;
			},
			{ redact: (text) => text, onFatal: () => undefined, steps: FAST_STEPS },
		);
		await background.start();
		expect(made).toHaveLength(1);
		await eventually(() => expect(made).toHaveLength(3));
		expect(made.map((stream) => stream.closed)).toEqual([true, true, false]);
		await background.close();
		expect(made[2].closed).toBe(true);
	});

	test('what no retry can fix fails the first start, and reaches onFatal when a later attempt meets it', async () => {
		const refused = new SocketFatalError('The service refused the credentials', 'auth', 401);
		const first = new BackgroundStartingStream(() => ({ start: async () => await Promise.reject(refused), close: async () => undefined }), { redact: (text) => text, onFatal: () => undefined, steps: FAST_STEPS });
		await expect(first.start()).rejects.toBe(refused);

		const fatal: Error[] = [];
		let attempt = 0;
		const later = new BackgroundStartingStream(
			() => ({
				start: async () => await Promise.reject(++attempt === 1 ? new ServiceUnreachableError('Could not reach the service') : new ServiceApiError('Unknown job', 404, 'JOB_NOT_FOUND')),
				close: async () => undefined,
			}),
			{ redact: (text) => text, onFatal: (error) => fatal.push(error), steps: FAST_STEPS },
		);
		await later.start();
		await eventually(() => expect(fatal.map((error) => error.message)).toEqual(['Unknown job']));
		// No attempt after the fatal one (the steps are 20–40 ms, well inside the quiet period).
		await staysTrue(() => {
			expect(attempt).toBe(2);
			expect(fatal).toHaveLength(1);
		});
	});

	test('close() while waiting to start again cancels the attempt: no stream is made after it', async () => {
		let made = 0;
		const background = new BackgroundStartingStream(
			() => {
				made += 1;
				return { start: async () => await Promise.reject(new SocketFatalError('Could not connect', 'unreachable')), close: async () => undefined };
			},
			{ redact: (text) => text, onFatal: () => undefined, steps: { initialMs: 200, maxMs: 200, factor: 1 } },
		);
		await background.start();
		await background.close();
		// The quiet period is longer than the 200 ms step the cancelled attempt would have waited.
		await staysTrue(() => expect(made).toBe(1));
	});

	test('which failures are worth starting again for', () => {
		expect(isRetryableStartFailure(new SocketFatalError('x', 'unreachable'))).toBe(true);
		expect(isRetryableStartFailure(new SocketFatalError('x', 'auth'))).toBe(false);
		expect(isRetryableStartFailure(new SocketFatalError('x', 'refused'))).toBe(false);
		expect(isRetryableStartFailure(new ServiceUnreachableError('x'))).toBe(true);
		for (const status of [500, 503, 429]) expect(isRetryableStartFailure(new ServiceApiError('x', status, null))).toBe(true);
		for (const status of [401, 403, 404]) expect(isRetryableStartFailure(new ServiceApiError('x', status, null))).toBe(false);
	});
});

test('an item held back keeps the sequence and key of its own transition, not those of a later one of its id', async () => {
	// Through the trigger glue, n8n's item gets `sequence` and its deduplication key from this checkpoint.
	const checkpoints = checkpointStoreOver({});
	const received: string[] = [];
	const handlers: StreamHandlers = {
		...handlersCollecting([]),
		onItem: (emitted, accepted) => received.push(`${emitted.status}#${String(accepted?.sequence)} ${String(accepted?.key)}`),
		checkpoints,
	};
	const tracker = new TransitionTracker({ checkpoints });
	/** Accepts two steps of id "a" while starting, as a stream reading a registration's history does. */
	const twoSteps = (onItem: StreamHandlers['onItem']): ItemStream => ({
		start: async () => {
			for (const step of ['validating', 'preparing_transaction']) {
				const accepted = tracker.accept({ id: 'a', transitionKey: step, isFinal: false });
				if (accepted) onItem({ ...item('a'), status: step }, accepted);
			}
		},
		close: async () => undefined,
	});
	await startHeldBySlowStream({ ...handlers, onItem: (emitted, accepted) => (emitted.id === 'b' ? undefined : handlers.onItem(emitted, accepted)) }, [twoSteps], received);
	expect(received).toEqual(['validating#1 validating', 'preparing_transaction#2 preparing_transaction']);
});
