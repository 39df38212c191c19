package parsers

type prettyParser struct{ jsonParser }
type textParser struct{ jsonParser }
type autoParser struct{ jsonParser }
