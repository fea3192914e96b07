import type { CheckpointStore, IdCheckpoint } from './checkpoints';

/**
 * Remembers which status transitions of which ids were already emitted in this activation, so
 * that a frame repeated by the server, or a status seen both over the WebSocket and in a REST
 * reconcile, is emitted exactly once.
 *
 * A transition is identified by `transitionKey` (the status plus whatever marker the service gives
 * for it, e.g. Tachyon's retry count), not by the status alone: a status can legitimately come back.
 * Where a service's statuses only move forward, `rank` lets the tracker refuse a late, older
 * status that would otherwise be emitted out of order.
 *
 * Memory stays bounded without timers: ids that reached a final status are forgotten once their
 * grace period has passed (checked whenever the tracker is used), and the number of ids is capped.
 */
export interface Transition {
	id: string;
	transitionKey: string;
	/** Position in a forward-only lifecycle; omit when the service's statuses can repeat. */
	rank?: number;
	isFinal: boolean;
}

export interface TransitionTrackerOptions {
	/**
	 * Where the last emitted transition of each id is kept across activations: the tracker starts
	 * from it (what was emitted before a restart is not emitted again) and writes every accepted
	 * transition to it, with the id's running count (the item's `sequence`).
	 */
	checkpoints?: CheckpointStore;
	/** How long a finished id is remembered, to swallow late duplicates of its last frames. */
	finalGraceMs?: number;
	/** Hard cap on remembered ids; the oldest are dropped first. */
	maxIds?: number;
	/** Cap on remembered transitions per id (a transaction retried forever must not grow without end). */
	maxTransitionsPerId?: number;
	now?: () => number;
}

interface IdRecord {
	id: string;
	/**
	 * Transition keys already emitted, oldest first. An array, not a Set: an id sees a handful of
	 * transitions, and a small array costs a fraction of a Set's memory and time (capped at
	 * maxTransitionsPerId, so a lookup stays short even for a transaction retried forever).
	 */
	seen: string[];
	highestRank: number;
	finalAt: number | null;
	/** Transitions accepted for the id so far, across activations where a store keeps them. */
	sequence: number;
}

/**
 * Records in the order they were added, oldest first: an array read from a moving head. (Not
 * `Map` iteration order: V8 keeps a deleted Map entry as a hole until the table is rebuilt, so
 * finding the oldest entry after many deletions at the front walks every hole, per frame.) An entry
 * whose record was since forgotten or replaced is skipped.
 */
class RecordQueue {
	private items: IdRecord[] = [];
	private head = 0;

	constructor(private readonly records: ReadonlyMap<string, IdRecord>) {}

	push(record: IdRecord): void {
		this.items.push(record);
		// Entries of records forgotten out of order (e.g. expired while still in the other queue)
		// would pile up until they reach the head: past twice what is remembered, sweep them out.
		if (this.items.length - this.head > 2 * this.records.size + 1024) {
			this.items = this.items.slice(this.head).filter((entry) => this.isCurrent(entry));
			this.head = 0;
		}
	}

	/** The oldest entry still current (stale ones are dropped on the way), or undefined. */
	peek(): IdRecord | undefined {
		while (this.head < this.items.length) {
			const record = this.items[this.head];
			if (this.isCurrent(record)) return record;
			this.shift();
		}
		return undefined;
	}

	private isCurrent(record: IdRecord): boolean {
		return this.records.get(record.id) === record;
	}

	shift(): void {
		this.head += 1;
		// Drop the consumed front now and then: amortised O(1), and the array does not keep old records alive.
		if (this.head >= 1024 && this.head * 2 >= this.items.length) {
			this.items = this.items.slice(this.head);
			this.head = 0;
		}
	}

	clear(): void {
		this.items = [];
		this.head = 0;
	}
}

export class TransitionTracker {
	private readonly records = new Map<string, IdRecord>();
	// Every record in the order it was added, for the cap's "oldest first".
	private readonly addedOrder = new RecordQueue(this.records);
	// Final records in the order they finished, so expiry only looks at the oldest ones.
	private readonly finishedOrder = new RecordQueue(this.records);
	private readonly finalGraceMs: number;
	private readonly maxIds: number;
	private readonly maxTransitionsPerId: number;
	private readonly now: () => number;
	private readonly checkpoints: CheckpointStore | undefined;

	constructor(options: TransitionTrackerOptions = {}) {
		this.finalGraceMs = options.finalGraceMs ?? 10 * 60_000;
		this.maxIds = options.maxIds ?? 10_000;
		this.maxTransitionsPerId = options.maxTransitionsPerId ?? 256;
		this.now = options.now ?? Date.now;
		this.checkpoints = options.checkpoints;
		// Unfinished ids up front: a reconcile at activation must know them. Finished ones are looked
		// up when their id comes back (see recordOf), so a tracker for one id never loads them all.
		for (const [id, checkpoint] of this.checkpoints?.entries() ?? []) if (!checkpoint.final) this.remember(this.recordFrom(id, checkpoint));
		this.enforceCap();
	}

	private recordFrom(id: string, checkpoint: IdCheckpoint): IdRecord {
		const finalAt = checkpoint.final ? this.now() : null;
		return { id, seen: [checkpoint.key], highestRank: checkpoint.rank ?? Number.NEGATIVE_INFINITY, finalAt, sequence: checkpoint.sequence };
	}

	private remember(record: IdRecord): void {
		this.records.set(record.id, record);
		this.addedOrder.push(record);
		if (record.finalAt !== null) this.finishedOrder.push(record);
	}

	/** The id's record: remembered, else rebuilt from its checkpoint (an earlier activation's), else new. */
	private recordOf(id: string): IdRecord {
		const known = this.records.get(id);
		if (known) return known;
		const checkpoint = this.checkpoints?.get(id);
		const record = checkpoint ? this.recordFrom(id, checkpoint) : { id, seen: [], highestRank: Number.NEGATIVE_INFINITY, finalAt: null, sequence: 0 };
		this.remember(record);
		this.enforceCap();
		return record;
	}

	/**
	 * Records the transition. New (to be emitted): the checkpoint written for it, whose `sequence`
	 * is the item's and whose key n8n deduplicates the execution by; already seen or out of order: null.
	 */
	accept(transition: Transition): IdCheckpoint | null {
		this.forgetExpired();
		const record = this.recordOf(transition.id);
		if (record.seen.includes(transition.transitionKey)) return null;
		if (transition.rank !== undefined && transition.rank < record.highestRank) return null;
		// An id already final gets no more transitions, except through `rank` ordering above.
		if (record.finalAt !== null && transition.rank === undefined) return null;

		record.seen.push(transition.transitionKey);
		if (record.seen.length > this.maxTransitionsPerId) record.seen.shift();
		if (transition.rank !== undefined) record.highestRank = transition.rank;
		if (transition.isFinal && record.finalAt === null) {
			record.finalAt = this.now();
			this.finishedOrder.push(record);
		}
		// The store's count wins where it has the id (it outlives this tracker's memory of it).
		record.sequence = (this.checkpoints?.get(transition.id)?.sequence ?? record.sequence) + 1;
		const checkpoint: IdCheckpoint = { key: transition.transitionKey, rank: transition.rank ?? null, final: transition.isFinal, sequence: record.sequence };
		this.checkpoints?.set(transition.id, checkpoint);
		return checkpoint;
	}

	/** Ids seen in this activation that have not reached a final status: what a reconcile must check. */
	unfinishedIds(): string[] {
		this.forgetExpired();
		const ids: string[] = [];
		for (const [id, record] of this.records) if (record.finalAt === null) ids.push(id);
		return ids;
	}

	/** The id's last transition key, where this activation knows the id. */
	lastKeyOf(id: string): string | undefined {
		const seen = this.records.get(id)?.seen;
		return seen?.[seen.length - 1];
	}

	/** Transitions accepted for the id so far (0: none known). */
	sequenceOf(id: string): number {
		return this.records.get(id)?.sequence ?? 0;
	}

	isFinal(id: string): boolean {
		return this.records.get(id)?.finalAt != null;
	}

	get size(): number {
		return this.records.size;
	}

	clear(): void {
		this.records.clear();
		this.addedOrder.clear();
		this.finishedOrder.clear();
	}

	private forgetExpired(): void {
		const cutoff = this.now() - this.finalGraceMs;
		for (let oldest = this.finishedOrder.peek(); oldest !== undefined; oldest = this.finishedOrder.peek()) {
			if ((oldest.finalAt as number) > cutoff) return;
			this.finishedOrder.shift();
			this.records.delete(oldest.id);
		}
	}

	/** Over the cap, forget finished ids first (oldest first), and only then the oldest unfinished ones. */
	private enforceCap(): void {
		while (this.records.size > this.maxIds) {
			const finished = this.finishedOrder.peek();
			if (finished !== undefined) {
				this.finishedOrder.shift();
				this.records.delete(finished.id);
				continue;
			}
			const oldest = this.addedOrder.peek();
			if (oldest === undefined) return;
			this.addedOrder.shift();
			this.records.delete(oldest.id);
		}
	}
}
