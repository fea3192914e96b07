/** Making an emulator produce transitions, each written to a ledger as it happens. */
import type { Ledger } from './ledger';

/** A transition as the ledger takes it: its key, its place in the id's plan, and whether it ends the id. */
export interface Transition {
	key: string;
	order: number;
	final: boolean;
}

/** What a service's emulator is told to do; the driver decides when. */
export interface TransitionPlan {
	/** A new id on the emulator (`willFail`: it is one of the one in ten that end in failure), and the key of its first transition. */
	create(willFail: boolean): { id: string; key: string };
	/** Moves the id one step on the emulator. */
	advance(id: string): Transition;
}

/**
 * For services whose ids walk one fixed sequence of statuses (per outcome): the place of a status
 * is its index, the last one is final.
 */
export function sequencePlan(create: (willFail: boolean) => { id: string; key: string; sequence: readonly string[] }, advance: (id: string) => string): TransitionPlan {
	const sequences = new Map<string, readonly string[]>();
	return {
		create(willFail) {
			const { id, key, sequence } = create(willFail);
			sequences.set(id, sequence);
			return { id, key };
		},
		advance(id) {
			const sequence = sequences.get(id) as readonly string[];
			const key = advance(id);
			const order = sequence.indexOf(key);
			const final = order === sequence.length - 1;
			if (final) sequences.delete(id);
			return { key, order, final };
		},
	};
}

/** Ids on the emulator (every tenth failing), up to `window` moving at once, each transition written to the ledger. */
export class TransitionDriver {
	/** The ids not at their final transition yet, oldest first. */
	readonly active: string[] = [];
	private created = 0;

	constructor(
		private readonly plan: TransitionPlan,
		readonly ledger: Ledger,
		private readonly window = 20,
		/** Called for every new id (e.g. to start a stream for it). */
		private readonly onCreate: (id: string) => void = () => undefined,
	) {}

	create(): string {
		const { id, key } = this.plan.create(this.created++ % 10 === 9);
		this.ledger.produce(id, key, 0, false);
		this.active.push(id);
		this.onCreate(id);
		return id;
	}

	advance(index: number): void {
		const id = this.active[index];
		const { key, order, final } = this.plan.advance(id);
		this.ledger.produce(id, key, order, final);
		if (final) this.active.splice(index, 1);
	}

	/** One transition: a new id while fewer than `window` are moving (and `mayCreate`), else a step of a random one; false once nothing is left to move. */
	step(mayCreate = true): boolean {
		if (mayCreate && this.active.length < this.window) this.create();
		else if (this.active.length > 0) this.advance(Math.floor(Math.random() * this.active.length));
		else return false;
		return true;
	}

	/** `count` transitions. */
	steps(count: number, mayCreate = true): void {
		for (let i = 0; i < count; i++) this.step(mayCreate);
	}

	/** Every id moving to its end; no new ones. */
	finishAll(): void {
		while (this.step(false));
	}
}
