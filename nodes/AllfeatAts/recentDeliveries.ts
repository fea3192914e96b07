/**
 * Allfeat may deliver the same webhook more than once (webhooks.mdx: "network blips, your 5xx
 * during ack"; retries run over about 43 minutes: 1 s, 5 s, 30 s, 2 min, 10 min, 30 min). This
 * remembers the deliveries the trigger already started a workflow for, in a plain object the n8n
 * glue backs with the workflow's static data, so it survives restarts. No n8n types here.
 *
 * A repeat is the same `transaction_id` with the same `event`: every confirm call has its own
 * transaction, so a `work_updated` (a new version, a new transaction) is never a repeat of a
 * `work_registered`, and a transaction's outcome is delivered under one event.
 *
 * Bounded: at most `maxEntries` deliveries (default 1,000), each kept `maxAgeSeconds` (default
 * 24 h, far beyond Allfeat's retry window); older ones and the oldest beyond the count are dropped.
 * An entry is about 70 bytes of JSON, so the whole record stays under ~70 kB.
 */

export interface DeliveryLimits {
	maxEntries: number;
	maxAgeSeconds: number;
}

export const DEFAULT_DELIVERY_LIMITS: DeliveryLimits = { maxEntries: 1_000, maxAgeSeconds: 24 * 60 * 60 };

/** The static-data field holding `{ "<transaction_id> <event>": <unix seconds first seen> }`, oldest first. */
export const RECENT_DELIVERIES_FIELD = 'recentDeliveries';

export interface DeliveryIdentity {
	transaction_id: string;
	event: string;
}

export function deliveryKey(delivery: DeliveryIdentity): string {
	return `${delivery.transaction_id} ${delivery.event}`;
}

export class RecentDeliveries {
	constructor(
		/** Where the record lives: the node's static data in n8n, any plain object in tests. */
		private readonly store: Record<string, unknown>,
		private readonly limits: DeliveryLimits = DEFAULT_DELIVERY_LIMITS,
	) {}

	/**
	 * `repeat` when this delivery was already seen within the limits (the record is left as it is);
	 * otherwise `new`, and it is remembered. The record is rewritten as a whole, so an observing
	 * store (n8n's static data) sees the change.
	 */
	admit(delivery: DeliveryIdentity, nowSeconds: number): 'new' | 'repeat' {
		const key = deliveryKey(delivery);
		const kept = this.currentEntries(nowSeconds);
		if (key in kept) return 'repeat';
		kept[key] = nowSeconds;
		const keys = Object.keys(kept);
		const excess = keys.length - this.limits.maxEntries;
		for (const old of keys.slice(0, Math.max(0, excess))) delete kept[old];
		this.store[RECENT_DELIVERIES_FIELD] = kept;
		return 'new';
	}

	/** How many deliveries are remembered (for tests and logs). */
	size(nowSeconds: number): number {
		return Object.keys(this.currentEntries(nowSeconds)).length;
	}

	/** A fresh copy of the record without expired or malformed entries, oldest first. */
	private currentEntries(nowSeconds: number): Record<string, number> {
		const stored = this.store[RECENT_DELIVERIES_FIELD];
		const kept: Record<string, number> = {};
		if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return kept;
		for (const [key, seenAt] of Object.entries(stored as Record<string, unknown>)) {
			if (typeof seenAt === 'number' && Number.isFinite(seenAt) && nowSeconds - seenAt <= this.limits.maxAgeSeconds) kept[key] = seenAt;
		}
		return kept;
	}
}
