export function render(path) {
  return `<p>rendered ${path}</p>`;
}
