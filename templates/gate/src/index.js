// The whole Worker: edgegate's standalone gate, configured from wrangler.toml [vars] and secrets.
export { default } from 'edgegate';
