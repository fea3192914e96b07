import { ALLFEAT_STEP_SEQUENCE, AllfeatEmulator } from '../emulators/allfeat';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { activateTrigger } from '../test/helpers/n8nEngine';
import type { ActiveTrigger } from '../test/helpers/n8nEngine';
import { plural, short } from './report';
import type { Report, Step } from './report';
import { shutDown } from './scenario';
import type { Scenario } from './scenario';

/**
 * Allfeat ATS: work registrations step through validating … completed (or failed) on the emulator's
 * clock, and the Allfeat ATS Trigger follows them, one WebSocket per transaction. Its transaction ids
 * are fixed at activation, so every batch gets its own trigger. The drop falls just before
 * `submitting`; the REST resource keeps the whole step history, so nothing at all may be missing.
 */
const SERVICE = 'allfeat-ats';
const STEP_MS = 500;

interface Registration {
	label: string;
	/** The emulator sends the transaction to `failed` instead of this step. */
	failAt?: string;
}

const REGISTRATIONS: Registration[] = [
	{ label: 'register a work → completed' },
	{ label: 'register failing at confirming', failAt: 'confirming' },
];

export async function startAllfeatScenario(report: Report): Promise<Scenario> {
	const apiKey = report.newSecret('afo_sk_demo_');
	const emulator = await AllfeatEmulator.start({ apiKeys: [apiKey], stepMs: STEP_MS });
	report.addService({
		name: SERVICE,
		restKnowsOnlyLatest: false,
		logName: 'Allfeat ATS',
		emulatorUrl: emulator.baseUrl,
		describeTraffic: () => `${plural(emulator.stats.connectionsAccepted, 'connection')}, ${plural(emulator.stats.restRequests, 'REST read')}`,
	});
	report.note(SERVICE, `emulator on ${emulator.baseUrl}, transactions step every ${STEP_MS} ms`);
	const created: string[] = [];
	const triggers: ActiveTrigger[] = [];

	const create = ({ label, failAt }: Registration): string => {
		const { id } = emulator.createTransaction({ failAt });
		created.push(id);
		return report.track({ service: SERVICE, id, label, expected: expectedSteps(failAt), observe: () => observeSteps(emulator, id) }, `created ${label}: transaction ${short(id)}`);
	};
	/** New transactions, and a trigger that follows exactly them (as a workflow would be set up for them). */
	const follow = async (registrations: Registration[]): Promise<string[]> => {
		const ids = registrations.map(create);
		const trigger = await activateTrigger({
			nodeType: new AllfeatAtsTrigger(),
			parameters: { transactionIds: ids.join(', '), steps: [] },
			credentials: { allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey } },
		});
		triggers.push(trigger);
		report.watch(SERVICE, trigger);
		report.note(SERVICE, `Allfeat ATS Trigger active for ${ids.map((id) => short(id)).join(', ')}`);
		return ids;
	};

	return {
		service: SERVICE,
		stepMs: STEP_MS,
		firstBatch: async () => await follow(REGISTRATIONS),
		// Once they are signing: the drop falls just before submitting.
		dropAfterItems: 3,
		dropConnections: () => {
			emulator.dropAllConnections();
			// Back when every transaction still moving has its socket again.
			return () => created.every((id) => emulator.getTransaction(id)?.is_complete === true || emulator.openConnectionCount(id) > 0);
		},
		next: async (round) => void (await follow([REGISTRATIONS[round % REGISTRATIONS.length]])),
		close: async () => await shutDown(emulator, triggers),
	};
}

/** The documented steps, cut short by `failed` where the emulator is told to fail. */
function expectedSteps(failAt: string | undefined): string[] {
	const steps: string[] = [...ALLFEAT_STEP_SEQUENCE];
	return failAt ? [...steps.slice(0, steps.indexOf(failAt)), 'failed'] : steps;
}

/** Allfeat's REST resource has every step with its timestamp: the referee reads the whole history. */
function observeSteps(emulator: AllfeatEmulator, id: string): Step[] {
	return (emulator.getTransaction(id)?.steps ?? []).map((step) => ({ key: step.step, at: Date.parse(step.timestamp) }));
}
