import { SEARCH_ATTRIBUTE_CLI_ARGS, SEARCH_ATTRIBUTES } from './search-attributes';

describe('search attributes', () => {
  it('derives the CLI registration of every attribute from its key (name and type)', () => {
    expect(SEARCH_ATTRIBUTE_CLI_ARGS).toEqual(['ScanId=Keyword', 'Stage=Keyword', 'Split=Keyword', 'Readers=KeywordList', 'Overdue=Bool', 'ReadingExtended=Bool']);
    expect(SEARCH_ATTRIBUTE_CLI_ARGS).toHaveLength(SEARCH_ATTRIBUTES.length);
  });
});
