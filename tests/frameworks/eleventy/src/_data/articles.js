// The generator: ARTICLES pages (3,000 by default) from one template (src/article.njk).
const count = Number(process.env.ARTICLES || 3000);

export default function () {
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    title: `Article ${i + 1}`,
    words: Array.from({ length: 20 + (i % 30) }, (_, w) => `word${(i * 7 + w) % 97}`).join(' '),
  }));
}
