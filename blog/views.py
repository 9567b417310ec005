def show_toolbar(request):
    return False
