/** A small element builder: the dashboard needs no framework (see web/README.md). */
type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

const svgNs = 'http://www.w3.org/2000/svg';

export function s(tag: string, attributes: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  append(element, children);
  return element;
}

function append(parent: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/** A labelled figure: `<div class="stat" data-stat="name"><span>label</span><strong>value</strong></div>`. */
export function stat(name: string, label: string, value: string): HTMLElement {
  return h('div', { class: 'stat', 'data-stat': name }, h('span', {}, label), h('strong', {}, value));
}

export function table(name: string, headings: string[], rows: Child[][], empty = 'Nothing in this range.'): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted', 'data-table': name }, empty);
  return h(
    'table',
    { 'data-table': name },
    h('thead', {}, h('tr', {}, ...headings.map((heading) => h('th', {}, heading)))),
    h('tbody', {}, ...rows.map((row) => h('tr', {}, ...row.map((cell) => h('td', {}, cell))))),
  );
}
