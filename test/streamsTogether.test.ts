/** Several streams as one trigger (one per id): nothing is emitted until all of them started. */
import type { ItemStream, StreamHandlers } from '../nodes/shared/n8n';
import { streamsStartedTogether } from '../nodes/shared/n8n';
import { checkpointStoreOver } from '../nodes/shared/checkpoints';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { TransitionTracker } from '../nodes/shared/TransitionTracker';

function item(id: string): NormalizedItem {
	return { source: 'allfeat-ats', id, status: 'validating', phase: 'pending', isFinal: false, progress: 10, txHash: null, blockHash: null, blockNumber: null, chainId: null, explorerUrl: null, error: null, occurredAt: '', receivedAt: '', details: {} };
}

function handlersCollecting(into: string[]): StreamHandlers {
	return { onItem: (emitted) => into.push(emitted.id), onFatal: () => undefined, checkpoints: checkpointStoreOver({}), unreachableAtStart: 'fail' };
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
 * Starts `streams` together with a stream "b" (it emits its id) that starts only when released:
 * until then nothing may have reached `seen`; resolves once all started.
 */
async function startHeldBySlowStream(handlers: StreamHandlers, streams: (onItem: StreamHandlers['onItem']) => ItemStream[], seen: unknown[]): Promise<void> {
	let releaseSlow: () => void = () => undefined;
	const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
	const combined = streamsStartedTogether(handlers, (onItem) => [...streams(onItem), scriptedStream('b', onItem, slow)]);
	const starting = combined.start();
	await new Promise((resolve) => setTimeout(resolve, 20));
	expect(seen).toEqual([]);
	releaseSlow();
	await starting;
}

test('items of the streams that started wait for the slowest one, then come in order', async () => {
	const emitted: string[] = [];
	await startHeldBySlowStream(handlersCollecting(emitted), (onItem) => [scriptedStream('a', onItem, Promise.resolve())], emitted);
	expect(emitted).toEqual(['a', 'b']);
});

test('when one stream fails to start, nothing at all is emitted', async () => {
	const emitted: string[] = [];
	let streams: Array<{ closed: boolean }> = [];
	const combined = streamsStartedTogether(handlersCollecting(emitted), (onItem) => {
		const made = [scriptedStream('a', onItem, Promise.resolve()), scriptedStream('b', onItem, Promise.reject(new Error('refused')))];
		streams = made;
		return made;
	});
	await expect(combined.start()).rejects.toThrow('refused');
	await combined.close();
	expect(emitted).toEqual([]);
	expect(streams.every((stream) => stream.closed)).toBe(true);
});

test('an item held back keeps the sequence and key of its own transition, not those of a later one of its id', async () => {
	// Through the trigger glue, n8n's item gets `sequence` and its deduplication key from this checkpoint.
	const checkpoints = checkpointStoreOver({});
	const received: string[] = [];
	const handlers: StreamHandlers = {
		onItem: (emitted, accepted) => received.push(`${emitted.status}#${String(accepted?.sequence)} ${String(accepted?.key)}`),
		onFatal: () => undefined,
		checkpoints,
		unreachableAtStart: 'fail',
	};
	const tracker = new TransitionTracker({ checkpoints });
	/** Accepts two steps of id "a" while starting, as a stream reading a registration's history does. */
	const twoSteps = (onItem: StreamHandlers['onItem']): ItemStream => ({
		start: async () => {
			for (const step of ['validating', 'preparing_transaction']) {
				if (tracker.accept({ id: 'a', transitionKey: step, isFinal: false })) onItem({ ...item('a'), status: step }, tracker.checkpointOf('a'));
			}
		},
		close: async () => undefined,
	});
	await startHeldBySlowStream({ ...handlers, onItem: (emitted, accepted) => (emitted.id === 'b' ? undefined : handlers.onItem(emitted, accepted)) }, (onItem) => [twoSteps(onItem)], received);
	expect(received).toEqual(['validating#1 validating', 'preparing_transaction#2 preparing_transaction']);
});
