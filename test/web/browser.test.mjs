// otto-web's pages in a real browser: Debian's chromium driven by puppeteer-core
// over a crawled simulated market, every page checked by axe-core (WCAG 2.1 A
// and AA), a screenshot of each kept in OTTO_SHOTS.  Run by t/200_web.pl, which
// starts the market, the crawl and otto-web, and gives OTTO_ADVANCE: a command
// that lets the market live another day and waits until Otto has crawled it
// and written its alerts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const URL_ = process.env.OTTO_WEB_URL;
const TOKEN = process.env.OTTO_TEST_USER_TOKEN;
const SHOTS = process.env.OTTO_SHOTS || '/tmp/otto-web-shots';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let browser;
let page;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
                                     args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  await page.setBypassCSP(true);     // lets the test inject axe; the pages themselves load only their own scripts
  page.on('pageerror', (e) => { throw new Error('page error: ' + e.message); });
});
after(async () => { await browser?.close(); });

// Open a path and wait until its view is drawn.
async function open(path) {
  await page.goto(URL_ + path, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('body[data-ready]', { timeout: 20000 });
}

// axe-core on the page as it is: no violation of WCAG 2.1 A/AA; a screenshot kept.
async function accessible(name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} - ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  });
  assert.deepEqual(violations, [], `axe finds no violations on ${name}`);
}

const text = (sel) => page.$eval(sel, (el) => el.textContent);
const api = (path) => page.evaluate(async (p) => (await fetch(p)).json(), path);

test('the market dashboard: charts, each with its numbers as a table', async () => {
  await open('/');
  const imgs = await page.$$eval('figure img', (els) => els.map((e) => ({ alt: e.alt, ok: e.complete && e.naturalWidth > 0 })));
  assert.ok(imgs.length >= 4, `${imgs.length} charts`);
  for (const i of imgs) assert.ok(i.ok && i.alt.length > 10, 'each chart drawn, with a text alternative');
  assert.equal(await page.$$eval('figure table', (t) => t.length), imgs.length, 'a table of numbers for every chart');
  await accessible('market');
});

test('sign in with a token', async () => {
  await open('/signin');
  await accessible('signin');
  await page.type('#token', 'wrong-token');
  await page.click('form button[type=submit]');
  await page.waitForSelector('p.error');
  assert.match(await text('p.error'), /unknown token/);
  await page.$eval('#token', (el) => { el.value = ''; });
  await page.type('#token', TOKEN);
  await Promise.all([page.waitForNavigation(), page.click('form button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/likes');
  await page.waitForSelector('body[data-ready]');
  const s = await api('/api/session');
  assert.equal(s.signed_in, true);
  const cookies = await page.cookies();
  const c = cookies.find((x) => x.name === 'otto_session');
  assert.ok(c.httpOnly && c.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict');
});

let firstAd;
test('search with filters: every ad shown meets them', async () => {
  await open('/search');
  await page.type('#f-price_max', '8000');
  await page.type('#f-year_min', '2005');
  await page.click('details.more summary');
  await page.select('#f-fuel', 'diesel');
  await Promise.all([page.waitForNavigation(), page.click('form.filters button[type=submit]')]);
  await page.waitForSelector('#results h2');
  const q = new URL(page.url()).searchParams;
  assert.equal(q.get('fuel'), 'diesel');
  assert.equal(q.get('make'), null, 'empty fields stay out of the address');
  const ids = await page.$$eval('#results .card h3 a', (as) => as.map((a) => Number(a.getAttribute('href').split('/').pop())));
  assert.ok(ids.length > 0, 'diesels from 2005 under 8,000 EUR are for sale');
  for (const id of ids.slice(0, 5)) {
    const a = await api('/api/ad?id=' + id);
    assert.ok(a.fuel === 'diesel' && a.price_eur <= 8000 && a.year >= 2005, `ad ${id} meets the filters`);
  }
  firstAd = ids[0];
  // pick two for the comparison
  const boxes = await page.$$('#results .card input[type=checkbox]');
  await boxes[0].click();
  await boxes[1].click();
  await accessible('search');
});

test('compare the two ads picked', async () => {
  await Promise.all([page.waitForNavigation(), page.click('#results button.secondary')]);
  await page.waitForSelector('body[data-ready]');
  const cols = await page.$$eval('main table thead th', (th) => th.length);
  assert.equal(cols, 3, 'a field column and one per ad');
  assert.ok((await page.$$eval('main table tbody tr', (tr) => tr.length)) > 5);
  await accessible('compare');
});

test('an ad: fair value, verdict, history and similar cars; like it', async () => {
  await open('/ad/' + firstAd);
  const body = await text('main');
  assert.match(body, /Fair value/);
  assert.match(body, /Price history/);
  assert.match(body, /Similar cars/);
  const like = await page.$('main button[aria-pressed]');
  await like.click();
  await page.waitForFunction(() => document.querySelector('main button[aria-pressed]').getAttribute('aria-pressed') === 'true');
  const likes = await api('/api/likes');
  assert.ok(likes.likes.some((l) => l.ad_id === firstAd), 'the like is stored');
  await accessible('ad');
});

test('save a search; an alert arrives live when the market lives another day', async () => {
  await open('/search?price_max=100000');
  await page.type('#save-name', 'Anything under 100k');
  await page.click('form.save button');
  await page.waitForFunction(() => [...document.querySelectorAll('.toast')].some((t) => /Saved/.test(t.textContent)));
  await open('/saved');
  assert.match(await text('main table'), /Anything under 100k/);
  await accessible('saved');
  const before = await page.$$eval('#alerts li', (li) => li.length);
  execSync(process.env.OTTO_ADVANCE, { stdio: 'inherit', timeout: 300000 });
  await page.waitForFunction((n) => document.querySelectorAll('#alerts li').length > n, { timeout: 30000 }, before);
  const toast = await text('.toast');
  assert.match(toast, /New alert/, 'a toast says so');
});

test('after a reconnect, the alerts that came meanwhile arrive too', async () => {
  const seen = Number(await page.evaluate(() => localStorage.getItem('otto_alert_seen')));
  assert.ok(seen > 0, 'the page remembers the last alert it showed');
  await open('/likes');       // a page with no alert list; its stream ends when we leave
  await page.goto('about:blank');
  execSync(process.env.OTTO_ADVANCE, { stdio: 'inherit', timeout: 300000 });
  const missed = (await (await fetch(URL_ + '/api/alerts?after=' + seen, { headers: { Cookie: await cookieHeader() } })).json()).alerts;
  assert.ok(missed.length > 0, 'alerts came while no page was open');
  await open('/saved');
  await page.waitForFunction((id) => Number(localStorage.getItem('otto_alert_seen')) >= id, { timeout: 20000 },
                             missed[missed.length > 100 ? 99 : missed.length - 1].alert_id);
  await page.waitForSelector('.toast');
});

async function cookieHeader() {
  return (await page.cookies(URL_)).map((c) => `${c.name}=${c.value}`).join('; ');
}

test('likes and recommendations', async () => {
  await open('/likes');
  assert.ok((await page.$$('main .cards')).length === 2);
  assert.ok((await page.$$eval('main .cards:last-of-type li', (li) => li.length)) > 0, 'recommendations from the like');
  await accessible('likes');
});

test('the chat page answers in Serbian, with a table and suggestions', async () => {
  await open('/chat');
  await page.type('#question', 'koliko vredi golf iz 2010');
  await page.click('main form button');
  await page.waitForSelector('#answer .answer');
  assert.match(await text('#answer .answer'), /vredi|€/);
  assert.ok((await page.$$('ul.suggestions button')).length >= 4, 'follow-up suggestions');
  await page.click('ul.suggestions button');
  await page.waitForFunction(() => document.querySelector('#answer .answer') && !/^…$/.test(document.querySelector('#answer').textContent));
  await accessible('chat');
});

test('switch to Cyrillic: the pages and Otto\'s answers in sr-Cyrl', async () => {
  await open('/search');
  await Promise.all([page.waitForNavigation(), page.select('#lang', 'sr-Cyrl')]);
  await page.waitForSelector('body[data-ready]');
  assert.equal(await page.$eval('html', (h) => h.lang), 'sr-Cyrl');
  assert.match(await text('header nav'), /Претрага/);
  assert.match(await text('main'), /Прикажи огласе/);
  await accessible('search-cyrillic');
  await open('/ad/' + firstAd);
  assert.match(await text('main'), /Фер вредност/);
  await accessible('ad-cyrillic');
  await open('/');
  await accessible('market-cyrillic');
});

test('keyboard: the skip link comes first and leads to the content', async () => {
  await open('/');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
});
