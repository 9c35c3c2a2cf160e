export default function (eleventyConfig) {
  eleventyConfig.addPassthroughCopy({ 'src/assets': 'assets', 'src/_headers': '_headers', 'src/_redirects': '_redirects' });
  return { dir: { input: 'src', output: '_site' } };
}
