from shared.api import Api

api = Api()
