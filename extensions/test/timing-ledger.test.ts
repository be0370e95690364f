import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deciderOf, headerText, settingStatement, MAX_REASON } from '../src/timing-ledger/context.ts';

test('the user comes from the accountability, the reason and article from the headers', () => {
	const decider = deciderOf({ user: '6f1d2c3b-0000-4000-8000-000000000001' }, {
		'x-trm-reason': '  GPS drift in the village ',
		'x-trm-regulation-article': 'SR 12.3',
		'x-trm-regulation-document': 'Supplementary%20Regulations%202026%20v2',
		'x-trm-effective-from': '2026-06-07T00:00:00Z',
	});
	assert.deepEqual(decider, {
		user: '6f1d2c3b-0000-4000-8000-000000000001',
		reason: 'GPS drift in the village',
		article: 'SR 12.3',
		document: 'Supplementary Regulations 2026 v2',
		effectiveFrom: '2026-06-07T00:00:00Z',
	});
});

test('no user (public, system) and no headers: nulls, and the statement sets empty values', () => {
	const decider = deciderOf(null, {});
	assert.deepEqual(decider, { user: null, reason: null, article: null, document: null, effectiveFrom: null });
	const { sql, bindings } = settingStatement(decider);
	assert.match(sql, /set_config\('trm\.directus_user', \?, true\)/);
	assert.match(sql, /set_config\('trm\.reason', \?, true\)/);
	assert.match(sql, /set_config\('trm\.effective_from', \?, true\)/);
	assert.deepEqual(bindings, ['', '', '', '', '']);
});

test('header text: percent-encoded UTF-8 is decoded, bad encoding kept as sent, blank is none, long is cut', () => {
	assert.equal(headerText('D%C3%A9rapage%20contr%C3%B4l%C3%A9'), 'Dérapage contrôlé');
	assert.equal(headerText('100%zz sure'), '100%zz sure');
	assert.equal(headerText('   '), null);
	assert.equal(headerText(['first', 'second']), 'first');
	assert.equal(headerText(undefined), null);
	assert.equal(headerText('x'.repeat(MAX_REASON + 10))?.length, MAX_REASON);
});
