export function render({ name, version }) {
  return `<h1>Hello ${name}</h1><p>${version}</p><script type="module" src="/_app/immutable/entry/start.Bx7Qe2.js"></script>`;
}
