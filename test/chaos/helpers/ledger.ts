/**
 * What the emulator produced against what the stream delivered, per id: the chaos suite's
 * accounting of "0 lost, 0 duplicated, in order per id".
 *
 * Every transition the driver makes the emulator produce is recorded with its place in the id's
 * lifecycle and whether it happened while the stream was cut off (`disrupted`: from the moment a
 * fault was injected until the stream had reconnected and caught up). The README's delivery
 * promise decides what must arrive:
 * - every id's final status;
 * - every transition produced while the stream was connected;
 * - a transition produced while it was cut off may collapse into a later one (REST only knows
 *   the latest status), where the service says so (`collapseAllowed`); it is then "collapsed".
 * A missing transition that may not collapse is "lost". A transition delivered twice is
 * "duplicated"; one delivered after a later one of its id is "out of order"; one never produced
 * (or of an id never produced) is "unexpected".
 */
export interface ProducedTransition {
	key: string;
	order: number;
	final: boolean;
	disrupted: boolean;
}

export interface LedgerFigures {
	ids: number;
	produced: number;
	producedWhileDisrupted: number;
	delivered: number;
	lost: number;
	duplicated: number;
	outOfOrder: number;
	collapsed: number;
	unexpected: number;
	/** Ids whose final status never arrived. */
	unfinished: number;
	/** A few examples of what went wrong, for the failure message. */
	examples: string[];
}

export class Ledger {
	private readonly produced = new Map<string, ProducedTransition[]>();
	private readonly delivered = new Map<string, string[]>();
	private disrupted = false;

	constructor(private readonly collapseAllowed: boolean) {}

	/** From now until `endDisruption`, produced transitions count as happening while the stream was cut off. */
	beginDisruption(): void {
		this.disrupted = true;
	}

	endDisruption(): void {
		this.disrupted = false;
	}

	get isDisrupted(): boolean {
		return this.disrupted;
	}

	produce(id: string, key: string, order: number, final: boolean): void {
		let list = this.produced.get(id);
		if (!list) {
			list = [];
			this.produced.set(id, list);
		}
		list.push({ key, order, final, disrupted: this.disrupted });
	}

	deliver(id: string, key: string): void {
		let list = this.delivered.get(id);
		if (!list) {
			list = [];
			this.delivered.set(id, list);
		}
		list.push(key);
	}

	get producedCount(): number {
		let count = 0;
		for (const list of this.produced.values()) count += list.length;
		return count;
	}

	get deliveredCount(): number {
		let count = 0;
		for (const list of this.delivered.values()) count += list.length;
		return count;
	}

	/** Whether the stream delivered the id's latest produced transition (what "caught up" means). */
	hasLatest(id: string): boolean {
		const list = this.produced.get(id);
		if (!list || list.length === 0) return true;
		return this.delivered.get(id)?.includes(list[list.length - 1].key) ?? false;
	}

	/** Whether every id's latest produced transition was delivered. */
	caughtUp(): boolean {
		for (const id of this.produced.keys()) if (!this.hasLatest(id)) return false;
		return true;
	}

	/** Whether everything produced outside a disruption was delivered (checked before the next fault). */
	settled(): boolean {
		for (const [id, list] of this.produced) {
			const got = this.delivered.get(id) ?? [];
			for (const transition of list) if (!transition.disrupted && !got.includes(transition.key)) return false;
		}
		return true;
	}

	figures(): LedgerFigures {
		const figures: LedgerFigures = {
			ids: this.produced.size,
			produced: 0,
			producedWhileDisrupted: 0,
			delivered: this.deliveredCount,
			lost: 0,
			duplicated: 0,
			outOfOrder: 0,
			collapsed: 0,
			unexpected: 0,
			unfinished: 0,
			examples: [],
		};
		const example = (text: string) => {
			if (figures.examples.length < 8) figures.examples.push(text);
		};
		for (const [id, list] of this.produced) {
			figures.produced += list.length;
			const got = this.delivered.get(id) ?? [];
			const orderOf = new Map(list.map((t) => [t.key, t.order]));
			const counts = new Map<string, number>();
			let lastOrder = Number.NEGATIVE_INFINITY;
			for (const key of got) {
				counts.set(key, (counts.get(key) ?? 0) + 1);
				const order = orderOf.get(key);
				if (order === undefined) {
					figures.unexpected += 1;
					example(`${id}: unexpected ${key}`);
					continue;
				}
				if (counts.get(key) === 2) {
					figures.duplicated += 1;
					example(`${id}: ${key} delivered twice`);
				}
				if (order <= lastOrder && counts.get(key) === 1) {
					figures.outOfOrder += 1;
					example(`${id}: ${key} after a later transition (${got.join(' → ')})`);
				}
				lastOrder = Math.max(lastOrder, order);
			}
			for (const transition of list) {
				if (transition.disrupted) figures.producedWhileDisrupted += 1;
				if (counts.has(transition.key)) continue;
				if (transition.final) figures.unfinished += 1;
				if (this.collapseAllowed && transition.disrupted && !transition.final) {
					figures.collapsed += 1;
				} else {
					figures.lost += 1;
					example(`${id}: ${transition.key} lost (${transition.disrupted ? 'while disrupted' : 'while connected'}; got ${got.join(' → ') || 'nothing'})`);
				}
			}
		}
		for (const [id, got] of this.delivered) {
			if (this.produced.has(id)) continue;
			figures.unexpected += got.length;
			example(`${id}: ${got.length} item(s) of an id never produced`);
		}
		return figures;
	}
}
