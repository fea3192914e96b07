/**
 * The item every trigger emits and every status/wait operation returns (see CONTRACT.md).
 * One shape for all services so that a single IF/Switch node can route any of them.
 */
export type Source = 'kurier' | 'allfeat-ats' | 'tachyon';

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
	if (typeof value === 'string' || typeof value === 'number') {
		const date = new Date(value);
		if (!Number.isNaN(date.getTime())) return date.toISOString();
	}
	return fallback;
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
	for (const [key, value] of Object.entries(fields)) {
		if (!promoted.has(key) && value !== undefined) details[key] = value;
	}
	return details;
}
