export { default } from 'edgegate';
