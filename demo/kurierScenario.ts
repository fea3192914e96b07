import { KURIER_STATUS_SEQUENCE_NO_CHAIN, KURIER_STATUS_SEQUENCE_WITH_CHAIN, KurierEmulator } from '../emulators/kurier';
import { KurierTrigger } from '../nodes/Kurier/KurierTrigger.node';
import { plural, short } from './report';
import type { Report, Step } from './report';
import { activateOrClose, dropUntilCountGrows, shutDown, workFromList } from './scenario';
import type { Scenario } from './scenario';

/**
 * Kurier (zkVerify): proofs go in through the real REST API (submit-proof), the emulator moves each
 * job one status every STEP_MS, and the Kurier Trigger (All Jobs) streams them. The drop falls just
 * before Valid → Submitted, so that status must come back through the trigger's REST reconcile.
 */
const SERVICE = 'kurier';
const STEP_MS = 600;

interface Proof {
	label: string;
	proofType: string;
	proof: string;
	chainId?: number;
	expected: readonly string[];
}

const PROOFS: Proof[] = [
	{ label: 'groth16', proofType: 'groth16', proof: '0x1a2b', expected: KURIER_STATUS_SEQUENCE_NO_CHAIN },
	{ label: 'ultrahonk → chain 84532', proofType: 'ultrahonk', proof: '0x3c4d', chainId: 84532, expected: KURIER_STATUS_SEQUENCE_WITH_CHAIN },
	// The emulator fails any proof whose JSON contains "invalid".
	{ label: 'invalid proof', proofType: 'groth16', proof: '0xinvalid', expected: ['Queued', 'Valid', 'Failed'] },
	{ label: 'risc0', proofType: 'risc0', proof: '0x5e6f', expected: KURIER_STATUS_SEQUENCE_NO_CHAIN },
];
const FIRST_BATCH = 3;

export async function startKurierScenario(report: Report): Promise<Scenario> {
	const apiKey = report.newSecret('kurier-demo-');
	const emulator = await KurierEmulator.start({ apiKeys: [apiKey], stepMs: STEP_MS });
	report.addService({
		name: SERVICE,
		restKnowsOnlyLatest: true,
		logName: 'Kurier',
		emulatorUrl: emulator.restBaseUrl,
		describeTraffic: () => plural(emulator.stats.connectionsAccepted, 'connection'),
	});
	const trigger = await activateOrClose(emulator, {
		nodeType: new KurierTrigger(),
		parameters: { event: 'allJobs', statuses: [] },
		credentials: { kurierApi: { environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey } },
	});
	report.watch(SERVICE, trigger);
	report.note(SERVICE, `emulator on ${emulator.restBaseUrl}, jobs step every ${STEP_MS} ms; Kurier Trigger (All Jobs) active`);

	const submit = async ({ label, proofType, proof, chainId, expected }: Proof): Promise<string> => {
		const body = JSON.stringify({ proofType, vkRegistered: false, chainId, proofData: { proof, publicSignals: ['0x01'], vk: { demo: label } } });
		const response = await fetch(`${emulator.restBaseUrl}/submit-proof/${encodeURIComponent(apiKey)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
		const answer = (await response.json()) as { jobId?: string; optimisticVerify?: string; message?: string };
		if (!answer.jobId) throw new Error(`submit-proof answered ${response.status}: ${answer.message ?? 'no jobId'}`);
		const jobId = answer.jobId;
		const announcement = `submitted ${label}: job ${short(jobId)}, optimisticVerify=${answer.optimisticVerify}`;
		return report.track({ service: SERVICE, id: jobId, label, expected, observe: () => observeJob(emulator, jobId) }, announcement);
	};

	return {
		service: SERVICE,
		stepMs: STEP_MS,
		...workFromList(PROOFS, FIRST_BATCH, submit),
		// Once they are Valid: the drop falls just before Submitted.
		dropAfterItems: 2,
		// Back once the trigger has subscribed again.
		dropConnections: () => dropUntilCountGrows(() => emulator.dropAllConnections(), () => emulator.stats.subscribeMessages),
		close: async () => await shutDown(emulator, [trigger]),
	};
}

/** Kurier's REST knows only the current status; updatedAt is the exact time of its step. */
function observeJob(emulator: KurierEmulator, jobId: string): Step[] {
	const job = emulator.getJob(jobId);
	return job ? [{ key: job.status, at: Date.parse(job.updatedAt) }] : [];
}
