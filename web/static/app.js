// Otto's pages: one script draws the view the path names, from otto-web's JSON API.
// Everything shown is set as text (textContent), never as HTML, so nothing an ad
// or a user wrote can run here; charts are SVG drawn by the server, each with
// its numbers in a table.
'use strict';

// ---------------------------------------------------------------------------
// Languages: English and Serbian; Serbian Cyrillic is the Latin text
// transliterated (the mapping is one to one, digraphs lj, nj, dž included).
const SR = {
  'Market': 'Tržište', 'Search': 'Pretraga', 'Chat': 'Pitaj Otta', 'Compare': 'Poređenje', 'Likes': 'Sviđanja',
  'Saved searches': 'Sačuvane pretrage', 'Sign in': 'Prijava', 'Sign out': 'Odjava', 'Language': 'Jezik',
  'Skip to content': 'Preskoči na sadržaj', 'Main menu': 'Glavni meni',
  'The market at a glance': 'Tržište na prvi pogled', 'Live ads': 'Aktivnih oglasa', 'Median price': 'Srednja cena',
  'Median mileage': 'Srednja kilometraža', 'Ads by price': 'Oglasi po ceni', 'Ads by mileage': 'Oglasi po kilometraži',
  'Most popular': 'Najpopularnije', 'Ads by model year': 'Oglasi po godištu',
  'Depreciation by make (% a year)': 'Gubitak vrednosti po marki (% godišnje)',
  'Fastest selling makes (sales per 100 ad-days)': 'Marke koje se najbrže prodaju (prodaja na 100 dana oglasa)',
  'Expected days on the market': 'Očekivano dana do prodaje', 'days': 'dana', 'Depreciation curve': 'Kriva gubitka vrednosti',
  'of the value when new': 'od vrednosti novog', 'Numbers': 'Brojevi', 'Value': 'Vrednost', 'Ads': 'Oglasi',
  'Make': 'Marka', 'Model': 'Model', 'Year from': 'Godište od', 'Year to': 'Godište do', 'Price from (€)': 'Cena od (€)',
  'Price to (€)': 'Cena do (€)', 'Mileage from (km)': 'Kilometraža od (km)', 'Mileage to (km)': 'Kilometraža do (km)',
  'Power from (kW)': 'Snaga od (kW)', 'Power to (kW)': 'Snaga do (kW)', 'Engine from (cm³)': 'Kubikaža od (cm³)',
  'Engine to (cm³)': 'Kubikaža do (cm³)', 'Seats from': 'Sedišta od', 'Seats to': 'Sedišta do', 'Doors': 'Vrata',
  'Fuel': 'Gorivo', 'Body': 'Karoserija', 'Gearbox': 'Menjač', 'Drive': 'Pogon', 'Colour': 'Boja', 'Seller': 'Prodavac',
  'Region': 'Region', 'City': 'Grad', 'Damaged': 'Oštećen', 'Any': 'Svejedno', 'Yes': 'Da', 'No': 'Ne',
  'Price was cut': 'Cena je snižena', 'Good deals only': 'Samo dobre ponude', 'Words in the title': 'Reči u naslovu',
  'Sort': 'Redosled', 'Newest': 'Najnovije', 'Cheapest': 'Najjeftinije', 'Most expensive': 'Najskuplje',
  'Lowest mileage': 'Najmanja kilometraža', 'Newest model year': 'Najnovije godište', 'Most powerful': 'Najjače',
  'Best deal': 'Najbolja ponuda', 'Show ads': 'Prikaži oglase', 'More filters': 'Još filtera',
  'Save this search': 'Sačuvaj pretragu', 'Name of the search': 'Naziv pretrage', 'Saved.': 'Sačuvano.',
  'Ads %1–%2': 'Oglasi %1–%2', 'No ads match.': 'Nijedan oglas ne odgovara.', 'Next page': 'Sledeća strana',
  'Previous page': 'Prethodna strana', 'Add to comparison': 'Dodaj u poređenje', 'Compare selected': 'Uporedi izabrane',
  'Fair value': 'Fer vrednost', 'Range (80%)': 'Opseg (80%)', 'Verdict': 'Ocena', 'Price history': 'Istorija cene',
  'Similar cars': 'Slični automobili', 'Like': 'Sviđa mi se', 'Liked': 'Sviđa vam se', 'Share': 'Podeli',
  'Copy link': 'Kopiraj vezu', 'Link copied.': 'Veza je kopirana.', 'Open the ad on the site': 'Otvori oglas na sajtu',
  'Details': 'Detalji', 'Field': 'Polje', 'Date': 'Datum', 'Event': 'Događaj', 'Price': 'Cena', 'Mileage': 'Kilometraža',
  'Power': 'Snaga', 'Days listed': 'Dana u oglasu', 'Price cuts': 'Sniženja', 'Gap': 'Razlika',
  'great': 'odlična ponuda', 'good': 'dobra ponuda', 'fair': 'fer cena', 'high': 'visoka cena', 'suspicious': 'sumnjivo',
  'Pick 2 to 5 ads to compare, from a search or an ad.': 'Izaberite 2 do 5 oglasa za poređenje, iz pretrage ili oglasa.',
  'Best': 'Najbolji', 'Your likes': 'Vaša sviđanja', 'Recommended for you': 'Preporučeno za vas',
  'Nothing liked yet.': 'Još vam se ništa ne sviđa.', 'Your alerts': 'Vaša obaveštenja', 'No alerts yet.': 'Još nema obaveštenja.',
  'Mark all read': 'Označi sve kao pročitano', 'Delete': 'Obriši', 'Filters': 'Filteri', 'Alerts': 'Obaveštenja',
  'No saved searches yet: save one from a search.': 'Još nema sačuvanih pretraga: sačuvajte jednu iz pretrage.',
  'Sign in to see this page.': 'Prijavite se da biste videli ovu stranu.', 'Your token': 'Vaš token',
  'Signed in.': 'Prijavljeni ste.', 'Ask about the car market': 'Pitajte o tržištu automobila', 'Ask': 'Pitaj',
  'Your question': 'Vaše pitanje', 'You might also ask': 'Možete pitati i',
  'What is a 2015 Golf 7 diesel worth?': 'Koliko vredi golf 7 dizel iz 2015?',
  'Which models sell fastest?': 'Koji modeli se najbrže prodaju?', 'Good deals this week': 'Dobre ponude ove nedelje',
  'Which makes lose value fastest?': 'Koje marke najbrže gube vrednost?',
  'Is a 2012 BMW 320d for 9000 EUR a good price?': 'Da li je BMW 320d iz 2012 za 9000 evra dobra cena?',
  'Cheap diesel Astra': 'Jeftina Astra dizel', 'Did not understand: %1': 'Nije razumeo: %1',
  'New alert': 'Novo obaveštenje', 'Something went wrong: %1': 'Nešto nije u redu: %1', 'Page not found.': 'Strana nije pronađena.',
  'as of %1, %2 ads': 'stanje od %1, oglasa: %2', 'Ad': 'Oglas', 'Why': 'Zašto', 'Similarity': 'Sličnost',
  'Share on': 'Podeli na', 'Otto, car market': 'Otto, tržište automobila', 'Chart': 'Grafikon',
};
const CYR = { 'lj': 'љ', 'nj': 'њ', 'dž': 'џ', 'Lj': 'Љ', 'Nj': 'Њ', 'Dž': 'Џ', 'LJ': 'Љ', 'NJ': 'Њ', 'DŽ': 'Џ' };
const CYR1 = 'aаbбvвgгdдđђeеžжzзiиjјkкlлmмnнoоpпrрsсtтćћuуfфhхcцčчšш';
const cyr1 = {};
for (let i = 0; i < CYR1.length; i += 2) {
  cyr1[CYR1[i]] = CYR1[i + 1];
  cyr1[CYR1[i].toUpperCase()] = CYR1[i + 1].toUpperCase();
}
function toCyrillic(s) {
  return s.replace(/[LlNn][Jj]|[Dd][žŽ]|./gu, (m) => CYR[m] ?? cyr1[m] ?? m);
}

const LANGS = [['en', 'English'], ['sr-Latn', 'Srpski'], ['sr-Cyrl', 'Српски']];
const cookieLang = (document.cookie.match(/(?:^|; )otto_lang=([^;]+)/) || [])[1];
const LANG = LANGS.some(([l]) => l === cookieLang) ? cookieLang : 'en';

// The text for key in the page's language, %1.. replaced by args.
function t(key, ...args) {
  let s = LANG === 'en' ? key : (SR[key] ?? key);
  if (LANG === 'sr-Cyrl') s = toCyrillic(s);
  return args.reduce((acc, a, i) => acc.replace('%' + (i + 1), String(a)), s);
}
const numberFormat = new Intl.NumberFormat(LANG === 'en' ? 'en-GB' : 'sr-Latn-RS');
const fmt = (n) => (n == null ? '–' : numberFormat.format(n));
const eur = (n) => (n == null ? '–' : fmt(n) + ' €');
const day = (s) => (s ? new Date(s).toLocaleDateString(LANG === 'en' ? 'en-GB' : (LANG === 'sr-Cyrl' ? 'sr-Cyrl-RS' : 'sr-Latn-RS')) : '–');

// ---------------------------------------------------------------------------
// DOM: h('tag', {attrs}, children...) with text children only.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  fill(el, ...children);
  return el;
}
// Append children (nested lists flattened, null and false left out).
function fill(el, ...children) {
  for (const c of children.flat(Infinity)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
function set(el, ...children) {
  el.replaceChildren();
  return fill(el, ...children);
}
const main = () => document.getElementById('main');
function page(title, ...children) {
  document.title = title + ' · Otto';
  set(main(), h('h1', {}, title), children);
}
function toast(text) {
  const box = h('div', { class: 'toast' }, text);
  document.getElementById('live').append(box);
  setTimeout(() => box.remove(), 8000);
}

// ---------------------------------------------------------------------------
// The API: every call carries the language; changes carry the CSRF token.
let session = { signed_in: false };
async function api(path, params = {}) {
  const q = new URLSearchParams({ ...params, lang: LANG });
  const r = await fetch(path + '?' + q, { credentials: 'same-origin' });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
async function post(path, body) {
  const r = await fetch(path + '?lang=' + LANG, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf || '' },
    body: JSON.stringify(body),
  });
  const out = await r.json();
  if (!r.ok) throw new Error(out.error || r.statusText);
  return out;
}

// A chart: the server's SVG, its title as the picture's text, and the numbers as a table.
function chart(title, rows, unit) {
  rows = rows.slice(0, 60);
  const q = new URLSearchParams({ title });
  if (unit) q.set('unit', unit);
  for (const [label, value] of rows) { q.append('label', label); q.append('value', value); }
  const alt = title + ': ' + rows.map(([l, v]) => `${l} ${fmt(v)}${unit ? ' ' + unit : ''}`).join(', ');
  return h('figure', {},
    h('img', { src: '/chart.svg?' + q, alt, width: 640, height: 40 + 24 * rows.length }),
    h('details', {}, h('summary', {}, t('Numbers') + ': ' + title),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, title), h('th', { scope: 'col', class: 'num' }, t('Value')))),
        h('tbody', {}, rows.map(([l, v]) => h('tr', {}, h('th', { scope: 'row' }, l), h('td', { class: 'num' }, fmt(v))))))));
}

function dealBadge(deal) {
  return deal ? h('span', { class: 'deal ' + deal }, t(deal)) : null;
}

function adCard(a, extra) {
  const name = [a.make, a.model, a.year].filter(Boolean).join(' ');
  return h('li', { class: 'card' },
    h('h3', {}, h('a', { href: '/ad/' + a.ad_id }, a.title || name)),
    h('p', {}, h('span', { class: 'price' }, eur(a.price_eur)), ' · ', name, a.mileage_km != null ? ' · ' + fmt(a.mileage_km) + ' km' : '',
      a.deal ? ' ' : '', dealBadge(a.deal)),
    a.why ? h('p', { class: 'muted' }, a.why) : null,
    a.text && !a.title ? h('p', {}, a.text) : null,
    extra || null);
}

// ---------------------------------------------------------------------------
// The header: brand, menu, language, sign-in and alerts.
const NAV = [['/', 'Market'], ['/search', 'Search'], ['/chat', 'Chat'], ['/compare', 'Compare'], ['/likes', 'Likes'],
             ['/saved', 'Saved searches']];
function header() {
  const path = location.pathname;
  const langSelect = h('select', { id: 'lang', onchange: (e) => {
    document.cookie = 'otto_lang=' + e.target.value + '; Path=/; SameSite=Strict; Max-Age=31536000';
    location.reload();
  } }, LANGS.map(([l, name]) => h('option', { value: l, selected: l === LANG, lang: l }, name)));
  const account = session.signed_in
    ? h('button', { class: 'secondary', type: 'button', onclick: async () => { await post('/api/logout', {}); location.href = '/'; } }, t('Sign out'))
    : h('a', { href: '/signin', 'aria-current': path === '/signin' ? 'page' : null }, t('Sign in'));
  set(document.getElementById('top'), 
    h('a', { class: 'brand', href: '/' }, 'Otto'),
    h('nav', { 'aria-label': t('Main menu') }, h('ul', {}, NAV.map(([href, key]) =>
      h('li', {}, h('a', { href, 'aria-current': path === href ? 'page' : null }, t(key)))))),
    h('div', { class: 'tools' }, h('label', { for: 'lang' }, t('Language')), langSelect, account));
  document.documentElement.lang = LANG;
  document.querySelector('.skip').textContent = t('Skip to content');
}

// Alerts arrive as server-sent events; after a reconnect the browser sends the
// last id it saw and the server sends what came since.
function listenForAlerts(onAlert) {
  if (!session.signed_in || !window.EventSource) return;
  const after = localStorage.getItem('otto_alert_seen') || '0';
  const es = new EventSource('/api/alerts/stream?' + new URLSearchParams({ after, lang: LANG }));
  es.addEventListener('alert', (e) => {
    const a = JSON.parse(e.data);
    if (a.alert_id > Number(localStorage.getItem('otto_alert_seen') || 0)) localStorage.setItem('otto_alert_seen', a.alert_id);
    toast(t('New alert') + ': ' + a.text);
    if (onAlert) onAlert(a);
  });
  // a page kept in the back/forward cache would hold its connection (a browser has 6 per host)
  window.addEventListener('pagehide', () => es.close());
}

// ---------------------------------------------------------------------------
// Pages.
async function marketPage() {
  const m = await api('/api/market');
  const o = m.overview;
  const hist = o.histograms || {};
  const range = (b, unit) => fmt(b.from) + (b.to ? '–' + fmt(b.to) : '+') + ' ' + unit;
  page(t('The market at a glance'),
    h('p', { class: 'muted' }, t('as of %1, %2 ads', day(o.as_of), fmt(o.live))),
    h('table', {}, h('tbody', {},
      h('tr', {}, h('th', { scope: 'row' }, t('Live ads')), h('td', { class: 'num' }, fmt(o.live))),
      h('tr', {}, h('th', { scope: 'row' }, t('Median price')), h('td', { class: 'num' }, eur(o.price_median_eur))),
      h('tr', {}, h('th', { scope: 'row' }, t('Median mileage')), h('td', { class: 'num' }, fmt(o.mileage_median_km) + ' km')))),
    h('h2', {}, t('Ads by price')), chart(t('Ads by price'), (hist.price_eur || []).map((b) => [range(b, '€'), b.ads])),
    h('h2', {}, t('Ads by mileage')), chart(t('Ads by mileage'), (hist.mileage_km || []).map((b) => [range(b, 'km'), b.ads])),
    h('h2', {}, t('Most popular')), chart(t('Most popular'), (o.popular || []).map((p) => [p.make || p.model, p.live])),
    h('h2', {}, t('Ads by model year')), chart(t('Ads by model year'), (hist.model_year || []).slice(-30).map((y) => [String(y.year), y.ads])),
    h('h2', {}, t('Depreciation by make (% a year)')),
    chart(t('Depreciation by make (% a year)'), (m.depreciation.ranking || []).map((d) => [d.make || d.model, d.annual_rate_pct]), '%'),
    h('h2', {}, t('Fastest selling makes (sales per 100 ad-days)')),
    (m.fastest.ranking || []).length
      ? [chart(t('Fastest selling makes (sales per 100 ad-days)'), m.fastest.ranking.map((f) => [f.make, f.sales_per_100_ad_days])),
         h('h2', {}, t('Expected days on the market')),
         chart(t('Expected days on the market'), m.fastest.ranking.map((f) => [f.make, f.expected_days]), t('days'))]
      : h('p', { class: 'muted' }, m.fastest.method));
}

const RANGES = [['year', 'Year from', 'Year to'], ['price', 'Price from (€)', 'Price to (€)'], ['mileage', 'Mileage from (km)', 'Mileage to (km)'],
                ['power', 'Power from (kW)', 'Power to (kW)'], ['engine_cc', 'Engine from (cm³)', 'Engine to (cm³)'], ['seats', 'Seats from', 'Seats to']];
const CHOICES = [['fuel', 'Fuel'], ['body', 'Body'], ['gearbox', 'Gearbox'], ['drive', 'Drive'], ['color', 'Colour'], ['seller_type', 'Seller']];
const TEXTS = [['make', 'Make'], ['model', 'Model'], ['text', 'Words in the title'], ['doors', 'Doors'], ['region', 'Region'], ['city', 'City']];
const SORTS = [['newest', 'Newest'], ['price_asc', 'Cheapest'], ['price_desc', 'Most expensive'], ['mileage_asc', 'Lowest mileage'],
               ['year_desc', 'Newest model year'], ['power_desc', 'Most powerful'], ['deal', 'Best deal']];

// The search's filters from the page's address, as otto.search_ads takes them.
function filtersFromQuery(q) {
  const f = {};
  for (const [k] of RANGES) for (const e of ['_min', '_max']) if (q.get(k + e)) f[k + e] = Number(q.get(k + e));
  for (const [k] of [...CHOICES, ...TEXTS]) if (q.get(k)) f[k] = q.get(k);
  for (const k of ['damaged']) if (q.get(k)) f[k] = q.get(k) === 'true';
  for (const k of ['price_cut', 'good_deal']) if (q.get(k) === 'true') f[k] = true;
  return f;
}

function selectedForCompare() {
  return JSON.parse(sessionStorage.getItem('otto_compare') || '[]');
}
function toggleCompare(id, on) {
  const ids = selectedForCompare().filter((x) => x !== id);
  if (on) ids.push(id);
  sessionStorage.setItem('otto_compare', JSON.stringify(ids.slice(-5)));
}

async function searchPage() {
  const q = new URLSearchParams(location.search);
  const labels = (await api('/api/labels')).labels;
  const f = filtersFromQuery(q);
  const field = (name, label, input) => h('div', {}, h('label', { for: 'f-' + name }, t(label)), input);
  const num = (name, label) => field(name, label, h('input', { id: 'f-' + name, name, type: 'number', inputmode: 'numeric', value: q.get(name) }));
  const form = h('form', { class: 'filters', method: 'get', action: '/search', role: 'search' },
    TEXTS.slice(0, 3).map(([k, l]) => field(k, l, h('input', { id: 'f-' + k, name: k, type: 'text', value: q.get(k) }))),
    RANGES.slice(0, 3).map(([k, a, b]) => [num(k + '_min', a), num(k + '_max', b)]),
    field('sort', 'Sort', h('select', { id: 'f-sort', name: 'sort' }, SORTS.map(([v, l]) => h('option', { value: v, selected: q.get('sort') === v }, t(l))))),
    h('details', { class: 'more', open: Object.keys(f).some((k) => !/^(make|model|text|year_|price_|mileage_)/.test(k)) },
      h('summary', {}, t('More filters')),
      h('div', { class: 'filters' },
        RANGES.slice(3).map(([k, a, b]) => [num(k + '_min', a), num(k + '_max', b)]),
        CHOICES.map(([k, l]) => field(k, l, h('select', { id: 'f-' + k, name: k }, h('option', { value: '' }, t('Any')),
          Object.entries(labels[k] || {}).sort((x, y) => x[1].localeCompare(y[1])).map(([code, label]) => h('option', { value: code, selected: q.get(k) === code }, label))))),
        TEXTS.slice(3).map(([k, l]) => field(k, l, h('input', { id: 'f-' + k, name: k, type: 'text', value: q.get(k) }))),
        field('damaged', 'Damaged', h('select', { id: 'f-damaged', name: 'damaged' }, h('option', { value: '' }, t('Any')),
          h('option', { value: 'true', selected: q.get('damaged') === 'true' }, t('Yes')), h('option', { value: 'false', selected: q.get('damaged') === 'false' }, t('No')))),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'price_cut', value: 'true', checked: q.get('price_cut') === 'true' }), t('Price was cut')),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'good_deal', value: 'true', checked: q.get('good_deal') === 'true' }), t('Good deals only')))),
    h('div', {}, h('button', { type: 'submit' }, t('Show ads'))));
  // empty fields stay out of the address
  form.addEventListener('submit', () => { for (const el of form.elements) if (el.name && !el.value) el.disabled = true; });
  page(t('Search'), form, h('div', { id: 'results' }, t('Show ads') + '…'));
  const offset = Number(q.get('offset') || 0);
  const res = await api('/api/search', { filters: JSON.stringify(f), sort: q.get('sort') || 'newest', limit: 20, offset });
  const results = document.getElementById('results');
  const compareButton = h('button', { type: 'button', class: 'secondary', onclick: () => { location.href = '/compare'; } }, t('Compare selected'));
  const list = h('ul', { class: 'cards' }, res.ads.map((a) => adCard(a,
    h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: selectedForCompare().includes(a.ad_id),
      onchange: (e) => toggleCompare(a.ad_id, e.target.checked) }), t('Add to comparison')))));
  const nav = h('p', {},
    offset > 0 ? h('a', { href: '?' + new URLSearchParams({ ...Object.fromEntries(q), offset: Math.max(0, offset - 20) }), rel: 'prev' }, t('Previous page')) : null, ' ',
    res.ads.length === 20 ? h('a', { href: '?' + new URLSearchParams({ ...Object.fromEntries(q), offset: offset + 20 }), rel: 'next' }, t('Next page')) : null);
  const save = session.signed_in ? h('form', { class: 'save', onsubmit: async (e) => {
    e.preventDefault();
    try { await post('/api/searches/save', { name: e.target.elements.name.value, filters: f }); toast(t('Saved.')); }
    catch (err) { toast(t('Something went wrong: %1', err.message)); }
  } }, h('label', { for: 'save-name' }, t('Name of the search')), h('input', { id: 'save-name', name: 'name', required: true, maxlength: 100 }), ' ',
    h('button', { type: 'submit' }, t('Save this search'))) : null;
  set(results, h('h2', {}, res.ads.length ? t('Ads %1–%2', offset + 1, offset + res.ads.length) : t('No ads match.')), save || '',
    res.ads.length ? list : h('p', {}, t('No ads match.')), compareButton, nav);
}

async function adPage(id) {
  const a = await api('/api/ad', { id });
  const [verdict, similar, labels, dep] = await Promise.all([api('/api/verdict', { id }).catch(() => null),
    api('/api/similar', { id }).catch(() => null), api('/api/labels').then((l) => l.labels),
    a.make && a.model ? api('/api/depreciation', { make: a.make, model: a.model }).catch(() => null) : null]);
  const label = (field) => (a[field] == null ? null : labels[field]?.[a[field]] ?? a[field]);
  const name = [a.make, a.model, a.year].filter(Boolean).join(' ');
  const rows = [['Price', eur(a.price_eur)], ['Mileage', a.mileage_km != null ? fmt(a.mileage_km) + ' km' : '–'], ['Power', a.power_kw ? a.power_kw + ' kW' : '–'],
                ['Fuel', label('fuel')], ['Body', label('body')], ['Gearbox', label('gearbox')], ['City', a.city], ['Days listed', fmt(a.days_listed)], ['Price cuts', fmt(a.price_cuts)]];
  const liked = { on: false };
  const likeButton = session.signed_in ? h('button', { type: 'button', 'aria-pressed': 'false', onclick: async (e) => {
    liked.on = !liked.on;
    await post(liked.on ? '/api/like' : '/api/unlike', { ad_id: Number(id) });
    e.target.setAttribute('aria-pressed', String(liked.on));
    e.target.textContent = liked.on ? t('Liked') : t('Like');
  } }, t('Like')) : null;
  if (session.signed_in) {
    post('/api/view', { ad_id: Number(id) }).catch(() => {});
    api('/api/likes').then((l) => {
      if (likeButton && l.likes.some((x) => x.ad_id === Number(id))) { liked.on = true; likeButton.setAttribute('aria-pressed', 'true'); likeButton.textContent = t('Liked'); }
    }).catch(() => {});
  }
  const share = await api('/api/share', { id, channel: 'email' }).catch(() => null);
  const history = a.history || [];
  page(a.title || name,
    h('p', {}, h('span', { class: 'price' }, eur(a.price_eur)), ' · ', name, ' ', dealBadge(verdict?.verdict || a.deal)),
    h('p', {}, likeButton, ' ',
      h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: selectedForCompare().includes(Number(id)),
        onchange: (e) => toggleCompare(Number(id), e.target.checked) }), t('Add to comparison'))),
    h('h2', {}, t('Fair value')),
    h('table', {}, h('tbody', {},
      h('tr', {}, h('th', { scope: 'row' }, t('Fair value')), h('td', { class: 'num' }, eur(a.fair_value_eur))),
      h('tr', {}, h('th', { scope: 'row' }, t('Range (80%)')), h('td', { class: 'num' }, a.fair_value_range_80_eur ? eur(a.fair_value_range_80_eur[0]) + ' – ' + eur(a.fair_value_range_80_eur[1]) : '–')),
      h('tr', {}, h('th', { scope: 'row' }, t('Gap')), h('td', { class: 'num' }, a.gap_pct != null ? a.gap_pct + ' %' : '–')))),
    verdict ? h('p', { class: 'answer' }, h('strong', {}, t('Verdict') + ': ', t(verdict.verdict)), ' — ', verdict.reason) : null,
    h('h2', {}, t('Details')),
    h('table', {}, h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, t(k)), h('td', {}, v ?? '–'))))),
    h('h2', {}, t('Price history')),
    history.length > 1 ? chart(t('Price history'), history.filter((e) => e.new_price_eur).map((e) => [day(e.at), e.new_price_eur]), '€') : null,
    h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('Date')), h('th', { scope: 'col' }, t('Event')), h('th', { scope: 'col', class: 'num' }, t('Price')))),
      h('tbody', {}, history.map((e) => h('tr', {}, h('td', {}, day(e.at)), h('td', {}, e.event), h('td', { class: 'num' }, eur(e.new_price_eur ?? e.old_price_eur)))))),
    dep && (dep.value_curve || []).length > 1 ? [h('h2', {}, t('Depreciation curve')),
      chart(t('Depreciation curve') + ': ' + [a.make, a.model].join(' ') + ' (% ' + t('of the value when new') + ')',
            dep.value_curve.map((v) => [String(v.model_year), v.retained_pct]), '%')] : null,
    h('h2', {}, t('Share')),
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: async () => {
      await navigator.clipboard?.writeText(location.origin + '/ad/' + id).catch(() => {}); toast(t('Link copied.'));
    } }, t('Copy link')), ' ', share ? h('a', { href: share.share_url }, t('Share on') + ' e-mail') : null, ' ',
      a.url ? h('a', { href: a.url, rel: 'noopener noreferrer' }, t('Open the ad on the site')) : null),
    h('h2', {}, t('Similar cars')),
    similar && similar.similar.length ? h('ul', { class: 'cards' }, similar.similar.map((s) => adCard(s))) : h('p', {}, '–'));
}

async function comparePage() {
  const q = new URLSearchParams(location.search);
  const ids = q.get('ids') ? q.get('ids').split(',').map(Number) : selectedForCompare();
  if (ids.length < 2) return page(t('Compare'), h('p', {}, t('Pick 2 to 5 ads to compare, from a search or an ad.')));
  const c = await api('/api/compare', { ids: ids.join(',') });
  page(t('Compare'),
    h('table', {}, h('caption', {}, t('Compare')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('Field')), c.ads.map((a) => h('th', { scope: 'col' }, h('a', { href: '/ad/' + a.ad_id }, a.title || a.ad_id))))),
      h('tbody', {}, c.comparison.map((row) => h('tr', {}, h('th', { scope: 'row' }, row.field),
        row.values.map((v, i) => h('td', {}, v == null ? '–' : (typeof v === 'object' ? JSON.stringify(v) : String(v)),
          row.best_ad_id != null && c.ads[i].ad_id === row.best_ad_id ? h('span', { class: 'deal good' }, ' ' + t('Best')) : null)))))),
    h('p', {}, h('a', { href: '/compare?ids=' + ids.join(',') }, t('Copy link'))));
}

function requireSignIn(title) {
  if (session.signed_in) return false;
  page(title, h('p', {}, h('a', { href: '/signin' }, t('Sign in to see this page.'))));
  return true;
}

async function likesPage() {
  if (requireSignIn(t('Likes'))) return;
  const [likes, rec] = await Promise.all([api('/api/likes'), api('/api/recommend')]);
  page(t('Likes'),
    h('h2', {}, t('Your likes')),
    likes.likes.length ? h('ul', { class: 'cards' }, likes.likes.map((a) => adCard(a))) : h('p', {}, t('Nothing liked yet.')),
    h('h2', {}, t('Recommended for you')),
    h('ul', { class: 'cards' }, (rec.recommendations || []).map((a) => adCard(a))));
}

async function savedPage() {
  if (requireSignIn(t('Saved searches'))) return;
  const [s, al] = await Promise.all([api('/api/searches'), api('/api/alerts', { after: 0 })]);
  const alertList = h('ul', { id: 'alerts' }, al.alerts.slice().reverse().map((a) => h('li', {}, h('a', { href: '/ad/' + a.ad_id }, a.text), ' ', h('span', { class: 'muted' }, day(a.created_at)))));
  page(t('Saved searches'),
    s.searches.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('Name of the search')), h('th', { scope: 'col' }, t('Filters')), h('th', { scope: 'col' }, t('Alerts')), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('Delete'))))),
      h('tbody', {}, s.searches.map((x) => h('tr', {},
        h('td', {}, h('a', { href: '/search?' + new URLSearchParams(Object.entries(x.filters).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v])) }, x.name)),
        h('td', {}, Object.entries(x.filters).map(([k, v]) => k + ': ' + v).join(', ')), h('td', {}, x.alerts.join(', ')),
        h('td', {}, h('button', { type: 'button', class: 'secondary', 'aria-label': t('Delete') + ' ' + x.name, onclick: async () => {
          await post('/api/searches/delete', { search_id: x.search_id }); location.reload();
        } }, t('Delete'))))))) : h('p', {}, t('No saved searches yet: save one from a search.')),
    h('h2', {}, t('Your alerts')),
    al.alerts.length ? null : h('p', { id: 'no-alerts' }, t('No alerts yet.')),
    alertList,
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: async () => {
      const last = al.alerts.length ? al.alerts[al.alerts.length - 1].alert_id : 0;
      await post('/api/alerts/read', { upto: Number(localStorage.getItem('otto_alert_seen') || last) });
      toast('✓');
    } }, t('Mark all read'))));
  return (a) => {
    document.getElementById('no-alerts')?.remove();
    alertList.prepend(h('li', { class: 'new' }, h('a', { href: '/ad/' + a.ad_id }, a.text), ' ', h('span', { class: 'muted' }, day(a.created_at))));
  };
}

const SUGGESTIONS = ['What is a 2015 Golf 7 diesel worth?', 'Which models sell fastest?', 'Good deals this week',
                     'Which makes lose value fastest?', 'Is a 2012 BMW 320d for 9000 EUR a good price?', 'Cheap diesel Astra'];

// The first list of objects in an answer, as a table, and its first numeric column as a chart.
function answerTable(result) {
  const list = Object.values(result || {}).find((v) => Array.isArray(v) && v.length && typeof v[0] === 'object');
  if (!list) return null;
  const first = ['title', 'make', 'model', 'year', 'price_eur', 'mileage_km', 'ad_id'];
  const cols = Object.keys(list[0]).filter((k) => k !== 'url' && list.some((r) => r[k] != null && typeof r[k] !== 'object'))
    .sort((a, b) => ((first.indexOf(a) + 1) || 99) - ((first.indexOf(b) + 1) || 99)).slice(0, 7);
  const show = (k, v) => (v == null ? '–' : typeof v === 'number' && !/year|_id$/.test(k) ? fmt(v) : String(v));
  const label = cols.find((k) => typeof list[0][k] === 'string') || cols[0];
  const value = cols.find((k) => typeof list[0][k] === 'number' && !/(_id|^n)$/.test(k));
  return [
    h('table', {}, h('thead', {}, h('tr', {}, cols.map((k) => h('th', { scope: 'col' }, k)))),
      h('tbody', {}, list.slice(0, 20).map((r) => h('tr', {}, cols.map((k) => h('td', { class: typeof r[k] === 'number' ? 'num' : null },
        k === 'ad_id' ? h('a', { href: '/ad/' + r[k] }, String(r[k])) : show(k, r[k]))))))),
    value && label ? chart(t('Chart') + ': ' + value, list.slice(0, 20).map((r) => [String(r[label] ?? ''), r[value] ?? 0])) : null];
}

async function chatPage() {
  const q = new URLSearchParams(location.search).get('q') || '';
  const out = h('div', { id: 'answer', 'aria-live': 'polite' });
  const input = h('input', { id: 'question', name: 'q', type: 'text', value: q, size: 50, required: true, autocomplete: 'off' });
  const ask = async (question) => {
    input.value = question;
    history.replaceState(null, '', '/chat?' + new URLSearchParams({ q: question }));
    set(out, h('p', {}, '…'));
    try {
      const r = await api('/api/ask', { q: question });
      set(out, 
        h('p', { class: 'answer' }, r.answer),
        r.not_understood && r.not_understood.length ? h('p', { class: 'muted' }, t('Did not understand: %1', [].concat(r.not_understood).join(', '))) : null,
        ...(answerTable(r.result) || []));
    } catch (err) { set(out, h('p', { class: 'error' }, t('Something went wrong: %1', err.message))); }
  };
  page(t('Ask about the car market'),
    h('form', { role: 'search', onsubmit: (e) => { e.preventDefault(); ask(input.value); } },
      h('label', { for: 'question' }, t('Your question')), input, ' ', h('button', { type: 'submit' }, t('Ask'))),
    out,
    h('h2', {}, t('You might also ask')),
    h('ul', { class: 'suggestions' }, SUGGESTIONS.map((s) => h('li', {}, h('button', { type: 'button', class: 'secondary', onclick: () => ask(t(s)) }, t(s))))));
  if (q) await ask(q);
}

async function signinPage() {
  const input = h('input', { id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'current-password' });
  const msg = h('p', { role: 'alert' });
  page(t('Sign in'),
    h('form', { onsubmit: async (e) => {
      e.preventDefault();
      try { await post('/api/login', { token: input.value }); location.href = '/likes'; }
      catch (err) { msg.textContent = err.message; msg.className = 'error'; }
    } }, h('label', { for: 'token' }, t('Your token')), input, ' ', h('button', { type: 'submit' }, t('Sign in'))), msg);
}

async function main_() {
  try { session = await api('/api/session'); } catch { session = { signed_in: false }; }
  header();
  const path = location.pathname;
  let onAlert = null;
  try {
    if (path === '/') await marketPage();
    else if (path === '/search') await searchPage();
    else if (/^\/ad\/\d+$/.test(path)) await adPage(path.slice(4));
    else if (path === '/compare') await comparePage();
    else if (path === '/likes') await likesPage();
    else if (path === '/saved') onAlert = await savedPage();
    else if (path === '/chat') await chatPage();
    else if (path === '/signin') await signinPage();
    else page(t('Page not found.'));
  } catch (err) {
    page(t('Something went wrong: %1', err.message));
  }
  listenForAlerts(onAlert);
  document.body.dataset.ready = 'true';   // for tests: the view is drawn
}
main_();
