export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/api/")) {
      return Response.json({ path: url.pathname });
    }
    return env.ASSETS.fetch(request);
  },
};
