import type { INodeType, INodeTypeDescription, ITriggerFunctions, ITriggerResponse } from 'n8n-workflow';

import type { NormalizedItem } from '../shared/NormalizedItem';
import { asItemJson, toNodeError } from '../shared/n8n';
import { createRedactor } from '../shared/redact';
import { KurierJobStream } from './KurierJobStream';
import type { KurierStreamTarget } from './KurierJobStream';
import { KURIER_CREDENTIAL_TEST, jobIdProperty, kurierApiCredentialTest, kurierClientFor, readJobId } from './kurierNodeCommon';
import { KURIER_PHASES } from './protocol';

export class KurierTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Kurier Trigger',
		name: 'kurierTrigger',
		icon: 'file:kurierTrigger.svg',
		group: ['trigger'],
		version: 1,
		subtitle: '={{$parameter["event"] === "job" ? "Job " + $parameter["jobId"] : "All jobs of the API key"}}',
		description: 'Starts the workflow the moment a Kurier (zkVerify) proof job changes status, over Kurier\'s WebSocket',
		defaults: { name: 'Kurier Trigger' },
		inputs: [],
		outputs: ['main'],
		credentials: [{ name: 'kurierApi', required: true, testedBy: KURIER_CREDENTIAL_TEST }],
		properties: [
			{
				displayName: 'Event',
				name: 'event',
				type: 'options',
				options: [
					{ name: 'One Job', value: 'job', description: 'Follow one job until it is final' },
					{ name: 'All Jobs', value: 'allJobs', description: 'Every job submitted with this API key' },
				],
				default: 'job',
			},
			jobIdProperty(
				{ show: { event: ['job'] } },
				'The jobId that Submit Proof returned. If the job has already moved on, its current status is emitted at once.',
			),
			{
				displayName: 'Statuses',
				name: 'statuses',
				type: 'multiOptions',
				options: KURIER_PHASES.knownStatuses().map((status) => ({ name: status, value: status })),
				default: [],
				description: 'Only start the workflow for these statuses. Empty: every status.',
			},
		],
	};

	methods = { credentialTest: { [KURIER_CREDENTIAL_TEST]: kurierApiCredentialTest } };

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const target = readTarget(this);
		const statuses = this.getNodeParameter('statuses', []) as string[];
		const client = await kurierClientFor(this).catch((error: unknown) => {
			throw toNodeError(this.getNode(), error, createRedactor([]));
		});
		const manual = this.getMode() === 'manual';
		let delivered = false;

		const stream = new KurierJobStream({
			client,
			target,
			statuses,
			logger: this.logger,
			onItem: (item: NormalizedItem) => {
				// "Listen for test event" wants one item; later ones would go nowhere.
				if (manual && delivered) return;
				delivered = true;
				// this.emit is read at event time: n8n swaps it after trigger() returns in manual mode.
				this.emit([this.helpers.returnJsonArray([asItemJson(item)])]);
				if (manual) void stream.close();
			},
			onFatal: (error: Error) => this.emitError(toNodeError(this.getNode(), error, client.redact)),
		});

		const start = async () => {
			try {
				await stream.start();
			} catch (error) {
				throw toNodeError(this.getNode(), error, client.redact);
			}
		};
		const closeFunction = async () => {
			// Must never throw: a failing close blocks deactivation.
			await stream.close().catch(() => undefined);
		};

		if (manual) return { closeFunction, manualTriggerFunction: start };
		await start();
		return { closeFunction };
	}
}

function readTarget(context: ITriggerFunctions): KurierStreamTarget {
	const event = context.getNodeParameter('event', 'job') as string;
	if (event === 'allJobs') return { kind: 'allJobs' };
	return { kind: 'job', jobId: readJobId(context.getNode(), context.getNodeParameter('jobId', '')) };
}
