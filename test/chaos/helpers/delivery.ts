/** What the chaos tests print of a ledger's figures, and the delivery promise they assert on them. */
import type { LedgerFigures } from './ledger';
import type { FigureValue } from './report';

/**
 * The README's promise, on one ledger: nothing lost, duplicated, reordered or made up, and every
 * id at its final status. The examples first, so a failure names what went wrong; `alsoZero` for
 * what a service promises beyond that (e.g. `collapsed` where its REST resource keeps every step).
 */
export function expectCleanDelivery(figures: LedgerFigures, alsoZero: Partial<Record<'collapsed', 0>> = {}): void {
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, unfinished: 0, ...alsoZero });
}

/** The rows of a short scenario: how many `noun` (transitions, steps) were produced and delivered, and what went wrong. */
export function deliveryRows(figures: LedgerFigures, noun: string): Record<string, FigureValue> {
	return {
		[`${noun} produced / delivered`]: `${figures.produced} / ${figures.delivered}`,
		'lost / duplicated / out of order': `${figures.lost} / ${figures.duplicated} / ${figures.outOfOrder}`,
	};
}
