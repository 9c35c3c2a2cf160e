import { error } from '@sveltejs/kit';

export function load({ params }) {
  if (!/^[0-9]+$/.test(params.id)) error(404, 'no such item');
  return { id: Number(params.id) };
}
