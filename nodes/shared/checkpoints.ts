import { createHash } from 'node:crypto';

/**
 * Per-id progress that must outlive one activation: the last transition emitted for each id and
 * how many have been emitted (the item's `sequence`). n8n keeps it in the workflow's static data,
 * which it saves on every emit and which survives restarts, saves and leader changes; tests and
 * manual runs keep it in memory. No n8n types here: the glue hands the streams a store.
 */
export interface IdCheckpoint {
	/** The last emitted transition's key (status, plus the service's marker where it has one). */
	key: string;
	/** Its rank in a forward-only lifecycle, where the service has one. */
	rank: number | null;
	final: boolean;
	/** Transitions emitted for this id so far: the last item's `sequence`. */
	sequence: number;
}

export interface CheckpointStore {
	get(id: string): IdCheckpoint | undefined;
	set(id: string, checkpoint: IdCheckpoint): void;
	entries(): Array<[string, IdCheckpoint]>;
}

/** Bounds of a store: unfinished ids are what a restart must reconcile; finished ones stop repeats of a final item. */
export const CHECKPOINT_LIMITS = { unfinished: 10_000, finished: 2_000 } as const;

/** The JSON kept in static data: short keys, as it is saved with every emit. */
interface StoredCheckpoint {
	k: string;
	r: number | null;
	f: 0 | 1;
	s: number;
}

/**
 * A store over a plain object (n8n's static data for the node, or `{}` in memory), changed in
 * place; n8n saves its static data with the next emit when it saw a change.
 */
export function checkpointStoreOver(container: Record<string, unknown>, limits: { unfinished: number; finished: number } = CHECKPOINT_LIMITS): CheckpointStore {
	const stored = (): Record<string, StoredCheckpoint> => {
		const current = container.checkpoints;
		if (current !== null && typeof current === 'object' && !Array.isArray(current)) return current as Record<string, StoredCheckpoint>;
		const fresh: Record<string, StoredCheckpoint> = {};
		container.checkpoints = fresh;
		return fresh;
	};
	const decode = (value: StoredCheckpoint | undefined): IdCheckpoint | undefined =>
		value && typeof value.k === 'string' && typeof value.s === 'number'
			? { key: value.k, rank: typeof value.r === 'number' ? value.r : null, final: value.f === 1, sequence: value.s }
			: undefined;
	// How many finished and unfinished ids the object holds: counted once, then kept up to date, so
	// a write (one per emitted transition) does not walk every id unless a bound is passed.
	let counts: { finished: number; unfinished: number } | null = null;
	const countsOf = (all: Record<string, StoredCheckpoint>) => {
		if (counts === null) {
			const values = Object.values(all);
			const finished = values.filter((value) => value.f === 1).length;
			counts = { finished, unfinished: values.length - finished };
		}
		return counts;
	};
	return {
		get: (id) => decode(stored()[id]),
		set: (id, checkpoint) => {
			const all = stored();
			const tally = countsOf(all);
			const previous = all[id];
			if (previous) tally[previous.f === 1 ? 'finished' : 'unfinished'] -= 1;
			// Re-inserted at the end, so key order is write order (oldest first) for the eviction below.
			delete all[id];
			all[id] = { k: checkpoint.key, r: checkpoint.rank, f: checkpoint.final ? 1 : 0, s: checkpoint.sequence };
			tally[checkpoint.final ? 'finished' : 'unfinished'] += 1;
			if (tally.finished > limits.finished || tally.unfinished > limits.unfinished) evictOverLimits(all, limits, tally);
			// n8n notices changes of its static data only through the object it handed out (a
			// proxy), not inside objects added later: assigning again marks the data as changed.
			container.checkpoints = all;
		},
		entries: () => Object.entries(stored()).flatMap(([id, value]) => {
			const checkpoint = decode(value);
			return checkpoint ? [[id, checkpoint] as [string, IdCheckpoint]] : [];
		}),
	};
}

/** Drops the oldest ids of whichever kind is over its bound (key order is write order). */
function evictOverLimits(all: Record<string, StoredCheckpoint>, limits: { unfinished: number; finished: number }, tally: { finished: number; unfinished: number }): void {
	for (const id of Object.keys(all)) {
		if (tally.finished <= limits.finished && tally.unfinished <= limits.unfinished) return;
		const kind = all[id].f === 1 ? 'finished' : 'unfinished';
		if (tally[kind] > limits[kind]) {
			delete all[id];
			tally[kind] -= 1;
		}
	}
}

/**
 * The key n8n 2.x takes with an emit (its fourth argument, `deduplicationKey`): n8n stores it on
 * the execution under a unique index and refuses a second execution with the same key. The
 * checkpoints above are the first guard against repeating a transition after a restart, but n8n
 * writes static data in the background after every emit, and two writes of one workflow in flight
 * at once can land in either order (SQLite in n8n 1.x's default mode runs them in parallel, as
 * bench/sqliteWriteOrder.js measures; a PostgreSQL pool can too), so the database can keep the older checkpoint until the workflow's
 * next emit. This key makes n8n itself refuse the repeat. One key per workflow, trigger node, id
 * and transition (the tracker never emits a transition key twice for one id); hashed, as ids and
 * keys come from the services and n8n's column holds 255 characters. n8n 1.x ignores it.
 */
export function transitionExecutionKey(workflowId: string, nodeId: string, id: string, transitionKey: string): string {
	const digest = createHash('sha256').update(JSON.stringify([workflowId, nodeId, id, transitionKey])).digest('base64url');
	return `onchain-events:${digest}`;
}

/** How many of the last transitions handed to n8n are kept, to be offered again after a crash (see handedTailOver). */
export const HANDED_TAIL_LENGTH = 20;

/** The last transitions handed to n8n, oldest first: [id, key, rank, final (0/1), sequence]. */
type StoredHanded = [string, string, number | null, 0 | 1, number];

export interface HandedTail {
	/** Noted before each emit, so that n8n's save of the static data at that emit holds it. */
	note(id: string, checkpoint: IdCheckpoint): void;
	entries(): Array<[string, IdCheckpoint]>;
}

/**
 * The last transitions handed to n8n, kept beside the checkpoints. At each emit n8n saves the static
 * data and stores the execution side by side: a kill between the two leaves a transition counted
 * but never executed. After such a stop these are offered again with their own sequence and key,
 * and n8n 2.x refuses each one whose execution exists (see `transitionExecutionKey`).
 */
export function handedTailOver(container: Record<string, unknown>, length = HANDED_TAIL_LENGTH): HandedTail {
	const stored = (): StoredHanded[] => (Array.isArray(container.handed) ? (container.handed as StoredHanded[]) : []);
	return {
		note: (id, checkpoint) => {
			const tail = stored().filter((entry) => entry[0] !== id);
			tail.push([id, checkpoint.key, checkpoint.rank, checkpoint.final ? 1 : 0, checkpoint.sequence]);
			// Assigned again: n8n notices changes only through the object it handed out.
			container.handed = tail.slice(-length);
		},
		entries: () =>
			stored().flatMap((entry) =>
				Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string' && typeof entry[4] === 'number'
					? [[entry[0], { key: entry[1], rank: typeof entry[2] === 'number' ? entry[2] : null, final: entry[3] === 1, sequence: entry[4] }] as [string, IdCheckpoint]]
					: [],
			),
	};
}

/** TEMPORARY (replaced by the compact-checkpoints branch): when the trigger last heard from its service. */
export function lastHeardOver(container: Record<string, unknown>): { note(epochMs: number): void; get(): number | null } {
	return {
		note: (epochMs) => {
			container.heard = Math.floor(epochMs / 1000);
		},
		get: () => (typeof container.heard === 'number' ? container.heard * 1000 : null),
	};
}
