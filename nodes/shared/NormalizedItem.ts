/**
 * The item every trigger emits and every status/wait operation returns (see CONTRACT.md).
 * One shape for all services so that a single IF/Switch node can route any of them.
 */
/**
 * Which service an item comes from: each service's protocol names its own (`kurier`, `allfeat-ats`,
 * `tachyon` in CONTRACT.md), so a new service adds its value without touching this file.
 */
export type Source = string;

export type Phase = 'pending' | 'retrying' | 'succeeded' | 'failed';

export interface NormalizedItem {
	source: Source;
	id: string;
	status: string;
	phase: Phase;
	isFinal: boolean;
	progress: number | null;
	txHash: string | null;
	blockHash: string | null;
	blockNumber: number | null;
	chainId: number | null;
	explorerUrl: string | null;
	error: string | null;
	/**
	 * Trigger items only: 1 for an id's first transition emitted by this trigger, then +1 each,
	 * across restarts (set by the trigger glue from the id's checkpoint). Executions can finish out
	 * of order; downstream keeps the highest.
	 */
	sequence?: number;
	occurredAt: string;
	receivedAt: string;
	details: Record<string, unknown>;
}

/** Maps a service status to its phase; statuses the table does not know are `pending`, not final. */
export class PhaseTable {
	private readonly phaseByStatus: ReadonlyMap<string, Phase>;

	constructor(table: Record<Phase, readonly string[]>) {
		const entries: Array<[string, Phase]> = [];
		for (const phase of Object.keys(table) as Phase[]) {
			for (const status of table[phase]) entries.push([status, phase]);
		}
		this.phaseByStatus = new Map(entries);
	}

	phaseOf(status: string): Phase {
		return this.phaseByStatus.get(status) ?? 'pending';
	}

	isFinalPhase(phase: Phase): boolean {
		return phase === 'succeeded' || phase === 'failed';
	}

	knownStatuses(): string[] {
		return [...this.phaseByStatus.keys()];
	}
}

/** Returns an ISO-8601 string for a service timestamp, or `fallback` when it is missing or unparsable. */
export function toIsoTimestamp(value: unknown, fallback: string): string {
	// Services mostly send the canonical form already: returned as is, it is exactly what the Date round trip gives.
	if (typeof value === 'string' && isCanonicalIso(value)) return value;
	if (typeof value === 'string' || typeof value === 'number') {
		const date = new Date(value);
		if (!Number.isNaN(date.getTime())) return date.toISOString();
	}
	return fallback;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
// Where `YYYY-MM-DDTHH:mm:ss.sssZ` has digits.
const ISO_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];

/**
 * `YYYY-MM-DDTHH:mm:ss.sssZ` with every field in range, i.e. exactly what `toISOString()` prints for
 * it. Anything else (another form, or a 30 February that Date would roll over) takes the Date round
 * trip. Character checks rather than a regex: this runs once per emitted item.
 */
function isCanonicalIso(value: string): boolean {
	if (value.length !== 24) return false;
	if (value[4] !== '-' || value[7] !== '-' || value[10] !== 'T' || value[13] !== ':' || value[16] !== ':' || value[19] !== '.' || value[23] !== 'Z') return false;
	for (let i = 0; i < ISO_DIGITS.length; i++) {
		const code = value.charCodeAt(ISO_DIGITS[i]);
		if (code < 48 || code > 57) return false;
	}
	const two = (at: number) => (value.charCodeAt(at) - 48) * 10 + value.charCodeAt(at + 1) - 48;
	const month = two(5);
	const day = two(8);
	if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]) return false;
	if (month === 2 && day === 29) {
		const year = two(0) * 100 + two(2);
		if (year % 4 !== 0 || (year % 100 === 0 && year % 400 !== 0)) return false;
	}
	return two(11) <= 23 && two(14) <= 59 && two(17) <= 59;
}

let lastNowMs = Number.NaN;
let lastNowIso = '';

/**
 * `new Date().toISOString()`, formatted at most once per millisecond: a burst of frames takes its
 * `receivedAt` from one string instead of formatting a Date per item.
 */
export function isoNow(): string {
	const ms = Date.now();
	if (ms !== lastNowMs) {
		lastNowMs = ms;
		lastNowIso = new Date(ms).toISOString();
	}
	return lastNowIso;
}

export function stringOrNull(value: unknown): string | null {
	return typeof value === 'string' && value.length > 0 ? value : null;
}

export function numberOrNull(value: unknown): number | null {
	if (typeof value === 'number' && Number.isFinite(value)) return value;
	if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
		return Number(value);
	}
	return null;
}

/** The service's fields not promoted to the item's top level: they go to `details`, unknown ones included. */
export function detailsWithout(fields: Record<string, unknown>, promoted: ReadonlySet<string>): Record<string, unknown> {
	const details: Record<string, unknown> = {};
	// for…in over own keys (no Object.entries pairs per field): it runs once per emitted item.
	for (const key in fields) {
		if (!Object.prototype.hasOwnProperty.call(fields, key) || promoted.has(key)) continue;
		const value = fields[key];
		if (value !== undefined) details[key] = value;
	}
	return details;
}
