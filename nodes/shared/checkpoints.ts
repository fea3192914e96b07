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

/**
 * The JSON kept in static data, under `container.ckpt`. n8n saves the whole static data with every
 * emit, so an id costs as few bytes as it can, and the JSON as few properties: n8n serializes it
 * through its change-tracking proxy, where 10,000 properties take about 5 ms and a few dozen
 * strings a tenth of that.
 * - `keys`: each distinct (key, rank, final), once.
 * - `ids`: the checkpoints in write order (oldest first, for eviction), in chunks of up to
 *   CHUNK_SIZE entries, each chunk one string of `<index in keys>.<sequence>:<id>` entries (base
 *   36 numbers; the id encoded by `encodeId`, a raw one URI-escaped) joined by commas. A write
 *   serializes again only the chunks it touched.
 * Example, Kurier job 2f1c9a4e-8b3d-4c7a-9e21-5d6f7a8b9c0d at Valid#2, Tachyon transaction
 * 68fa3450539a3c9d28bbca33 at PENDING#0 (sequence 2) and an id "Job-7" at Valid#11:
 * `{"keys":[["Queued",0,0],["Valid",1,0],["PENDING#0",null,0]],"ids":["1.2:LxyaTos9THqeIV1veoucDQ,2.2:.aPo0UFOaPJ0ou8oz,1.b:~Job-7"]}`
 * (Queued is no id's any more: `keys` drops such entries once it grows long, see keyIndex).
 */
interface StoredCheckpoints {
	keys: StoredKey[];
	ids: string[];
}

type StoredKey = [key: string, rank: number | null, final: 0 | 1];

/** The format before issue 21, under `container.checkpoints`: id → {k, r, f, s}. Still read, and moved into `ckpt`. */
interface OldStoredCheckpoint {
	k: string;
	r: number | null;
	f: 0 | 1;
	s: number;
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOWERCASE_HEX = /^(?:[0-9a-f]{2})+$/;
/** Marks an id kept as the base64url of the bytes its lowercase hex spells (Tachyon's 24-hex ObjectIds). */
const HEX_PREFIX = '.';
/**
 * Marks an id kept as it is. Neither prefix is in base64url's alphabet or a digit: no encoded id
 * equals another's, and none is integer-like (JS lists those first, which would break write order).
 */
const RAW_PREFIX = '~';

/**
 * An id as a key of `ids`: a canonical (lowercase) UUID as the 22-character base64url of its 16
 * bytes, unprefixed (too long to be integer-like); other lowercase hex of even length as HEX_PREFIX
 * and the base64url of its bytes; anything else (an uppercase UUID too, which bytes would not give
 * back as it was) as RAW_PREFIX and the id. `decodeId` gives back exactly the id.
 */
export function encodeId(id: string): string {
	if (CANONICAL_UUID.test(id)) return Buffer.from(id.replace(/-/g, ''), 'hex').toString('base64url');
	if (LOWERCASE_HEX.test(id)) return HEX_PREFIX + Buffer.from(id, 'hex').toString('base64url');
	return RAW_PREFIX + id;
}

export function decodeId(encoded: string): string {
	if (encoded.startsWith(RAW_PREFIX)) return encoded.slice(RAW_PREFIX.length);
	if (encoded.startsWith(HEX_PREFIX)) return Buffer.from(encoded.slice(HEX_PREFIX.length), 'base64url').toString('hex');
	const hex = Buffer.from(encoded, 'base64url').toString('hex');
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `keys` is not compacted below this many entries: the services have a few dozen distinct keys. */
const KEYS_COMPACTED_FROM = 256;
/** Checkpoints per string of `ids`: a write re-serializes one or two of them. */
const CHUNK_SIZE = 256;

/** Encoded ids of one string of `ids`, in write order. */
type Chunk = Set<string>;

/** What stores derive from one stored object, shared by every store over it (see derivedOf). */
interface Derived {
	stored: StoredCheckpoints;
	/** Encoded id → its value (`<index>.<sequence>`). */
	values: Map<string, string>;
	/** The chunks in the order of `stored.ids`, and each encoded id's chunk. */
	chunks: Chunk[];
	chunkOf: Map<string, Chunk>;
	/** Each (key, rank, final) of `keys` (as JSON) → its index. */
	indexOf: Map<string, number>;
	/** Counted once, then kept up to date, so a write (one per emitted transition) does not walk every id unless a bound is passed. */
	counts: { finished: number; unfinished: number };
	/** `keys` is compacted when a new key would make it this long. */
	compactAt: number;
}

// Keyed by the stored object (n8n hands out the same proxy for it while the static data lives): two
// stores over one container (a test reading what a trigger wrote) see the same checkpoints.
const derivedByStored = new WeakMap<object, Derived>();

/**
 * A store over a plain object (n8n's static data for the node, or `{}` in memory), changed in
 * place; n8n saves its static data with the next emit when it saw a change. Checkpoints in the
 * format before issue 21 are moved into the current one at the store's first use: an upgrade keeps
 * every checkpoint, and until n8n saves again its database holds the old format, read the same way.
 */
export function checkpointStoreOver(container: Record<string, unknown>, limits: { unfinished: number; finished: number } = CHECKPOINT_LIMITS): CheckpointStore {
	const load = (): Derived => {
		const current = container.ckpt;
		let state = isPlainObject(current) ? derivedByStored.get(current) : undefined;
		if (state === undefined) {
			state = derive(isPlainObject(current) ? current : undefined);
			container.ckpt = state.stored;
			derivedByStored.set(state.stored, state);
		}
		const old = container.checkpoints;
		if (isPlainObject(old)) {
			for (const [id, value] of Object.entries(old)) {
				const checkpoint = decodeOld(value);
				// Both formats at once only if an older version ran in between: the higher count wins.
				const kept = decodeValue(state.stored, state.values.get(encodeId(id)));
				if (checkpoint && (!kept || kept.sequence < checkpoint.sequence)) write(state, id, checkpoint);
			}
			delete container.checkpoints;
		}
		return state;
	};

	const write = (state: Derived, id: string, checkpoint: IdCheckpoint): void => {
		const { values, counts } = state;
		const encoded = encodeId(id);
		const touched = new Set<Chunk>();
		const previous = decodeValue(state.stored, values.get(encoded));
		if (previous) counts[previous.final ? 'finished' : 'unfinished'] -= 1;
		const index = keyIndex(state, checkpoint);
		// Moved to the end, so the order is write order (oldest first) for the eviction below.
		forget(state, encoded, touched);
		values.set(encoded, `${index.toString(36)}.${checkpoint.sequence.toString(36)}`);
		let last = state.chunks[state.chunks.length - 1];
		if (last === undefined || last.size >= CHUNK_SIZE) {
			last = new Set();
			state.chunks.push(last);
			state.stored.ids.push('');
		}
		last.add(encoded);
		state.chunkOf.set(encoded, last);
		touched.add(last);
		counts[checkpoint.final ? 'finished' : 'unfinished'] += 1;
		if (counts.finished > limits.finished || counts.unfinished > limits.unfinished) evictOverLimits(state, limits, touched);
		serializeTouched(state, touched);
		// n8n notices changes of its static data only through the object it handed out (a
		// proxy), not inside objects added later: assigning again marks the data as changed.
		container.ckpt = state.stored;
	};

	return {
		get: (id) => {
			const state = load();
			return decodeValue(state.stored, state.values.get(encodeId(id)));
		},
		set: (id, checkpoint) => write(load(), id, checkpoint),
		entries: () => {
			const state = load();
			const all: Array<[string, IdCheckpoint]> = [];
			for (const chunk of state.chunks) {
				for (const encoded of chunk) {
					const checkpoint = decodeValue(state.stored, state.values.get(encoded));
					if (checkpoint) all.push([decodeId(encoded), checkpoint]);
				}
			}
			return all;
		},
	};
}

/** Reads a stored object (or starts an empty one): every entry that parses, in write order. */
function derive(current: Record<string, unknown> | undefined): Derived {
	const keys = Array.isArray(current?.keys) ? (current.keys as StoredKey[]) : [];
	const state: Derived = { stored: { keys, ids: [] }, values: new Map(), chunks: [], chunkOf: new Map(), indexOf: indexOfKeys(keys), counts: { finished: 0, unfinished: 0 }, compactAt: KEYS_COMPACTED_FROM };
	const storedIds = current?.ids;
	const pairs: Array<[string, string]> = [];
	if (Array.isArray(storedIds)) {
		for (const text of storedIds) if (typeof text === 'string' && text !== '') for (const entry of text.split(',')) pairs.push(parseEntry(entry));
	}
	let chunk: Chunk | undefined;
	for (const [encoded, value] of pairs) {
		const checkpoint = decodeValue(state.stored, value);
		if (!checkpoint || encoded === '' || state.values.has(encoded)) continue;
		if (chunk === undefined || chunk.size >= CHUNK_SIZE) {
			chunk = new Set();
			state.chunks.push(chunk);
		}
		chunk.add(encoded);
		state.chunkOf.set(encoded, chunk);
		state.values.set(encoded, value);
		state.counts[checkpoint.final ? 'finished' : 'unfinished'] += 1;
	}
	state.stored.ids = state.chunks.map((each) => serializeChunk(state, each));
	return state;
}

/** `<value>:<encoded id>`; a raw id is URI-escaped in it (it may hold commas and colons). */
function serializeEntry(encoded: string, value: string): string {
	return `${value}:${encoded.startsWith(RAW_PREFIX) ? RAW_PREFIX + encodeURIComponent(encoded.slice(RAW_PREFIX.length)) : encoded}`;
}

function parseEntry(entry: string): [string, string] {
	const colon = entry.indexOf(':');
	if (colon <= 0) return ['', ''];
	const id = entry.slice(colon + 1);
	try {
		return [id.startsWith(RAW_PREFIX) ? RAW_PREFIX + decodeURIComponent(id.slice(RAW_PREFIX.length)) : id, entry.slice(0, colon)];
	} catch {
		return ['', ''];
	}
}

function serializeChunk(state: Derived, chunk: Chunk): string {
	let text = '';
	for (const encoded of chunk) text += (text === '' ? '' : ',') + serializeEntry(encoded, state.values.get(encoded) ?? '');
	return text;
}

/** Takes an id out of its chunk (noted as touched). */
function forget(state: Derived, encoded: string, touched: Set<Chunk>): void {
	const chunk = state.chunkOf.get(encoded);
	if (chunk === undefined) return;
	chunk.delete(encoded);
	state.chunkOf.delete(encoded);
	state.values.delete(encoded);
	touched.add(chunk);
}

/** Writes the touched chunks back to `ids`; an emptied one goes. */
function serializeTouched(state: Derived, touched: Set<Chunk>): void {
	for (const chunk of touched) {
		const at = state.chunks.indexOf(chunk);
		if (at < 0) continue;
		if (chunk.size === 0) {
			state.chunks.splice(at, 1);
			state.stored.ids.splice(at, 1);
		} else state.stored.ids[at] = serializeChunk(state, chunk);
	}
}

/** The index of the checkpoint's (key, rank, final) in `keys`, added if new. */
function keyIndex(state: Derived, checkpoint: IdCheckpoint): number {
	const tuple: StoredKey = [checkpoint.key, checkpoint.rank, checkpoint.final ? 1 : 0];
	const known = state.indexOf.get(JSON.stringify(tuple));
	if (known !== undefined) return known;
	if (state.stored.keys.length >= state.compactAt) {
		compactKeys(state);
		state.indexOf = indexOfKeys(state.stored.keys);
		// Compacted again only after as many new keys as are left: one walk of the ids per that many writes.
		state.compactAt = Math.max(KEYS_COMPACTED_FROM, 2 * state.stored.keys.length);
	}
	state.stored.keys.push(tuple);
	state.indexOf.set(JSON.stringify(tuple), state.stored.keys.length - 1);
	return state.stored.keys.length - 1;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
	return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function indexOfKeys(keys: StoredKey[]): Map<string, number> {
	return new Map(keys.map((tuple, index) => [JSON.stringify([tuple[0], tuple[1], tuple[2]]), index]));
}

/** The index in `keys` an id's value points to, and its sequence. */
function splitValue(value: unknown): { index: number; sequence: number } | undefined {
	if (typeof value !== 'string') return undefined;
	const dot = value.indexOf('.');
	const index = parseInt(value.slice(0, dot), 36);
	const sequence = parseInt(value.slice(dot + 1), 36);
	return dot > 0 && Number.isInteger(index) && Number.isInteger(sequence) ? { index, sequence } : undefined;
}

function decodeValue(stored: StoredCheckpoints, value: string | undefined): IdCheckpoint | undefined {
	const split = splitValue(value);
	const tuple = split ? stored.keys[split.index] : undefined;
	if (!split || !Array.isArray(tuple) || typeof tuple[0] !== 'string') return undefined;
	return { key: tuple[0], rank: typeof tuple[1] === 'number' ? tuple[1] : null, final: tuple[2] === 1, sequence: split.sequence };
}

function decodeOld(value: unknown): IdCheckpoint | undefined {
	if (!isPlainObject(value)) return undefined;
	const { k, r, f, s } = value as Partial<OldStoredCheckpoint>;
	return typeof k === 'string' && typeof s === 'number' ? { key: k, rank: typeof r === 'number' ? r : null, final: f === 1, sequence: s } : undefined;
}

/** Drops the keys no id points to any more (evicted, or moved on), renumbering the ids' values (their order stays). */
function compactKeys(state: Derived): void {
	const renumbered = new Map<number, number>();
	const keys: StoredKey[] = [];
	for (const [encoded, value] of state.values) {
		const split = splitValue(value);
		if (!split || !Array.isArray(state.stored.keys[split.index])) continue;
		let index = renumbered.get(split.index);
		if (index === undefined) {
			index = keys.push(state.stored.keys[split.index]) - 1;
			renumbered.set(split.index, index);
		}
		if (index !== split.index) state.values.set(encoded, `${index.toString(36)}.${split.sequence.toString(36)}`);
	}
	state.stored.keys = keys;
	state.stored.ids = state.chunks.map((chunk) => serializeChunk(state, chunk));
}

/** Drops the oldest ids of whichever kind is over its bound (chunk order is write order). */
function evictOverLimits(state: Derived, limits: { unfinished: number; finished: number }, touched: Set<Chunk>): void {
	const tally = state.counts;
	for (const chunk of state.chunks) {
		for (const encoded of chunk) {
			if (tally.finished <= limits.finished && tally.unfinished <= limits.unfinished) return;
			const checkpoint = decodeValue(state.stored, state.values.get(encoded));
			const kind = checkpoint?.final ? 'finished' : 'unfinished';
			if (!checkpoint) forget(state, encoded, touched);
			else if (tally[kind] > limits[kind]) {
				forget(state, encoded, touched);
				tally[kind] -= 1;
			}
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

/** When a trigger last heard from its service, kept beside its checkpoints (see lastHeardOver). */
export interface LastHeard {
	note(epochMs: number): void;
	/** Epoch milliseconds, in whole seconds; null before the first note. */
	get(): number | null;
}

/**
 * When the trigger last heard from its service, in whole seconds under `container.heard`: noted at
 * each emit and each connection, so n8n's save of the static data at an emit holds it. After a
 * restart it tells from when to list what was created while n8n was down.
 */
export function lastHeardOver(container: Record<string, unknown>): LastHeard {
	return {
		note: (epochMs) => {
			const seconds = Math.floor(epochMs / 1000);
			// Assigned only when it changes: every assignment marks n8n's static data as changed.
			if (Number.isFinite(seconds) && container.heard !== seconds) container.heard = seconds;
		},
		get: () => (typeof container.heard === 'number' && Number.isFinite(container.heard) ? container.heard * 1000 : null),
	};
}
