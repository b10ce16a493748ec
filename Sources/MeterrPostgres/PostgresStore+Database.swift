import MeterrStore

extension PostgresStore: UserStore, MeterrDatabase {}
